#pragma once
// The one way to include toml++ (header-only, so every file that parses TOML
// must see the same settings): its internal assertions off in every build.
//
// toml++ 3.3 (Debian 12's) asserts a precondition in parse_key() that a table
// header starting with no key breaks ("[(", "[[=", "[[[1]]]":
// marzer/tomlplusplus#301, fixed upstream after 3.3). With assertions on (the
// ci, dev and asan presets do not define NDEBUG) a two-byte zmproxy.conf or
// localconfig.toml aborted the process, a reload included, instead of failing
// with the parser's own error for the case ("expected bare key starting
// character or string delimiter"), which is what it does with them off.
// Found by tests/fuzz/zmproxy_conf_fuzz.cpp (corpus/zmproxy_conf/header_no_key).
// (With NDEBUG under clang the same precondition becomes __builtin_assume;
// the project builds with GCC 12, where it is a no-op.) Callers also check
// the text with core::toml_unsafe_line (toml_guard.hpp) first.

#define TOML_ASSERT(expr) static_assert(true)
#include <toml++/toml.h>

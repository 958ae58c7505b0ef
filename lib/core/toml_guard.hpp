#pragma once
// What toml++ 3.3 (Debian 12's) must not be given, and its errors on one
// line. Pure, standard library only. Its whitespace test reaches __builtin_unreachable (undefined
// behaviour: UBSan stops there, an optimised build runs on into whatever
// follows) for a code point in U+00A1..U+0499, U+2D6E..U+3167 or
// U+FAF6..U+FEFE met where whitespace may be, that is outside a string or
// comment ("key = é", a bare "§" line) or first on the line after a line-ending
// backslash in a """ string (marzer/tomlplusplus#190 and #295, fixed upstream
// after 3.3). Outside strings and comments TOML allows no byte >= 0x80 at
// all, so refusing them first changes no valid file's meaning; after a
// line-ending backslash such a character is valid TOML but refused too.
// Found by tests/fuzz/zmproxy_conf_fuzz.cpp (corpus/zmproxy_conf/non_ascii_outside_string).

#include <cstddef>
#include <string>
#include <string_view>

namespace zmproxy::core {

// The 1-based line of the first byte >= 0x80 outside a string or comment, or
// first after a line-ending backslash's blanks in a multi-line basic string;
// 0 when there is none (a UTF-8 byte order mark at the start is allowed).
std::size_t toml_unsafe_line(std::string_view text) noexcept;

// `s` on one line for an error about a TOML file: control bytes as TOML
// writes them (\n, \r, \t, \u0001 ... \u007F), everything else unchanged. A
// key spelled "a\nb" or toml++'s own description of a newline it saw stays
// on the error's line (found by tests/fuzz/zmproxy_conf_fuzz.cpp).
std::string one_line_text(std::string_view s);

}  // namespace zmproxy::core

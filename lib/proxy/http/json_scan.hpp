#pragma once
// A strict JSON reader (RFC 8259) that finds one top-level string member:
// all a JWT payload is read for (jwt.hpp, route_extract.hpp). Anything that
// is not strict JSON is refused; nothing else is kept. Pure: standard
// library only, fuzzed through tests/fuzz/http_route_fuzz.cpp.
//
// Thread affinity: none (pure functions).

#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::proxy::http {

// Nesting allowed inside the top-level object before the text counts as odd.
inline constexpr int k_max_json_depth = 16;

// The string value of the top-level member `key` of `json`, its escapes
// undone (\uXXXX as UTF-8, surrogate pairs joined); nullopt when the text is
// not one JSON object (surrounding whitespace allowed), nests deeper than
// k_max_json_depth, or the member is missing, repeated or not a string.
// Member names are compared after unescaping.
std::optional<std::string> json_top_level_string(std::string_view json, std::string_view key);

}  // namespace zmproxy::proxy::http

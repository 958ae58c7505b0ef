#pragma once
// Small, pure string helpers used across the library. Standard library only:
// the protocol parsers (lib/proxy/parsers.cmake) and their fuzz targets use
// them too, so this file and strings.cpp build clean under the parsers'
// -Wconversion -Wsign-conversion.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::core {

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr char ascii_upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

// The value of a hexadecimal digit (either case), or -1.
constexpr int hex_digit_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool iequals(std::string_view a, std::string_view b) noexcept;
// Whether `v` holds a control byte (below 0x20, or DEL).
bool has_control_byte(std::string_view v) noexcept;
bool istarts_with(std::string_view s, std::string_view prefix) noexcept;
std::string to_lower(std::string_view s);
std::string_view trim(std::string_view s) noexcept;
// Without HTTP's optional whitespace (space and tab only, RFC 9110 §5.6.3)
// at either end.
std::string_view trim_ows(std::string_view s) noexcept;
std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// %XX decoding (either hex case); with plus_as_space, '+' is a space (query
// strings, as Java servlets read them). nullopt on a malformed escape (a '%'
// not followed by two hex digits). Decoded bytes are not checked.
std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space);

// Levenshtein distance, case-insensitive; used for "did you mean" hints.
std::size_t edit_distance(std::string_view a, std::string_view b);

// Quote for a POSIX shell: 'text' with embedded quotes as '\''.
std::string shell_quote(std::string_view s);

// The inside of a TOML basic string: quotes, backslashes and control
// characters escaped (no surrounding quotes).
std::string toml_escape(std::string_view s);

}  // namespace zmproxy::core

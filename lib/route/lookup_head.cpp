#include "lib/route/lookup_head.hpp"

#include "lib/core/strings.hpp"

#include <array>

namespace zmproxy::route {

namespace {

// RFC 9110 tchar, as a table (one load per byte).
constexpr std::array<bool, 256> k_tchar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (const char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_tchar(char c) noexcept { return k_tchar[static_cast<unsigned char>(c)]; }

bool is_token(std::string_view s) noexcept {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!is_tchar(c)) {
      return false;
    }
  }
  return true;
}

// Does the comma-separated list `value` hold `token` (case-insensitive)?
bool has_token(std::string_view value, std::string_view token) noexcept {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (core::iequals(core::trim_ows(value.substr(0, comma)), token)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return false;
}

// "METHOD SP target SP HTTP/d.d"
bool parse_request_line(std::string_view line, RequestHead& head) noexcept {
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) {
    return false;
  }
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    return false;
  }
  head.method = line.substr(0, sp1);
  head.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(head.method) || head.target.empty() || version.size() != 8 ||
      version.substr(0, 5) != "HTTP/" || version[5] < '0' || version[5] > '9' || version[6] != '.' ||
      version[7] < '0' || version[7] > '9') {
    return false;
  }
  for (char c : head.target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return false;
    }
  }
  head.version = static_cast<unsigned>(version[5] - '0') * 10 + static_cast<unsigned>(version[7] - '0');
  return true;
}

bool valid_value(std::string_view v) noexcept {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) {
      return false;
    }
  }
  return true;
}

// core::iequals, the lengths compared first and the usual spelling (the
// same case) without a call.
bool same_name(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && (a == b || core::iequals(a, b));
}

}  // namespace

std::string_view RequestHead::field(std::string_view name) const noexcept {
  for (const auto& [k, v] : fields) {
    if (same_name(k, name)) {
      return v;
    }
  }
  return {};
}

HeadParse parse_request_head(std::string_view in, RequestHead& head, std::size_t& size) {
  const auto end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    return HeadParse::incomplete;
  }
  size = end + 4;
  std::string_view rest = in.substr(0, end + 2);  // every line with its CRLF
  auto next_line = [&rest]() {
    const auto eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    return line;
  };
  head.fields.clear();
  if (!parse_request_line(next_line(), head)) {
    return HeadParse::invalid;
  }
  bool connection_close = false;
  bool connection_keep_alive = false;
  while (!rest.empty()) {
    const std::string_view line = next_line();
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      return HeadParse::invalid;
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = core::trim_ows(line.substr(colon + 1));
    if (!is_token(name) || !valid_value(value)) {
      return HeadParse::invalid;  // a bad name, a control byte, or obsolete folding
    }
    if (same_name(name, "Content-Length")) {
      if (value != "0") {
        return HeadParse::invalid;  // a lookup has no body
      }
    } else if (same_name(name, "Transfer-Encoding")) {
      return HeadParse::invalid;
    } else if (same_name(name, "Connection")) {
      connection_close = connection_close || has_token(value, "close");
      connection_keep_alive = connection_keep_alive || has_token(value, "keep-alive");
    }
    head.fields.emplace_back(name, value);
  }
  head.keep_alive = head.version >= 11 ? !connection_close : connection_keep_alive && !connection_close;
  return HeadParse::complete;
}

}  // namespace zmproxy::route

#include "lib/core/address.hpp"

#include <charconv>

#include "lib/core/strings.hpp"

namespace zmproxy::core {

namespace {

bool is_name_char(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
         c == '-' || c == '_';
}

bool is_ipv4(std::string_view s) noexcept {
  int parts = 0;
  while (true) {
    std::size_t n = 0;
    unsigned value = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9' && n < 3) {
      value = value * 10 + static_cast<unsigned>(s[n] - '0');
      ++n;
    }
    if (n == 0 || value > 255) {
      return false;
    }
    ++parts;
    s.remove_prefix(n);
    if (s.empty()) {
      return parts == 4;
    }
    if (s.front() != '.' || parts == 4) {
      return false;
    }
    s.remove_prefix(1);
  }
}

// The text, quoted, with control and non-ASCII bytes as \xNN so an error
// stays one line.
std::string quoted(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "'";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

ParsedAddress failed(std::string_view text, std::string_view why, const AddressRules& rules) {
  ParsedAddress r;
  r.reason = std::string(why);
  r.error =
      quoted(text) + " is not an address (" + std::string(why) + "); expected " +
      (rules.default_port ? "host, host:port, [IPv6] or [IPv6]:port" : "host:port or [IPv6]:port") +
      (rules.port_zero ? " with a port of 0 to 65535" : " with a port of 1 to 65535");
  return r;
}

}  // namespace

bool is_ipv6_literal(std::string_view s) noexcept {
  if (const auto zone = s.find('%'); zone != std::string_view::npos) {
    const std::string_view id = s.substr(zone + 1);
    if (id.empty()) {
      return false;
    }
    for (const char c : id) {
      if (!is_name_char(c)) {
        return false;
      }
    }
    s = s.substr(0, zone);
  }
  if (s.size() < 2) {
    return false;
  }
  int groups = 0;
  bool compressed = false;
  std::size_t i = 0;
  if (s.starts_with("::")) {
    compressed = true;
    i = 2;
    if (i == s.size()) {
      return true;  // "::"
    }
  } else if (s.front() == ':') {
    return false;
  }
  while (i < s.size()) {
    std::size_t n = 0;
    while (i + n < s.size() && hex_digit_value(s[i + n]) >= 0) {
      ++n;
    }
    if (i + n < s.size() && s[i + n] == '.') {  // an IPv4 tail: the last 32 bits
      if (!is_ipv4(s.substr(i))) {
        return false;
      }
      groups += 2;
      break;
    }
    if (n == 0 || n > 4) {
      return false;
    }
    ++groups;
    i += n;
    if (i == s.size()) {
      break;
    }
    // s[i] == ':' (anything else stopped the hex run and is not allowed)
    if (s[i] != ':') {
      return false;
    }
    if (i + 1 < s.size() && s[i + 1] == ':') {
      if (compressed) {
        return false;
      }
      compressed = true;
      i += 2;
      if (i == s.size()) {
        break;
      }
    } else {
      ++i;
      if (i == s.size()) {
        return false;  // a trailing single ':'
      }
    }
  }
  return compressed ? groups < 8 : groups == 8;
}

ParsedAddress parse_address(std::string_view text, const AddressRules& rules) {
  std::string_view host;
  std::string_view port;  // the digits after ':', when there is a ':'
  bool has_port = false;
  bool v6 = false;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return failed(text, "no ']' after the IPv6 address", rules);
    }
    host = text.substr(1, close - 1);
    if (!is_ipv6_literal(host)) {
      return failed(text, "brackets hold only an IPv6 address", rules);
    }
    v6 = true;
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return failed(text, "expected ':port' after ']'", rules);
      }
      has_port = true;
      port = rest.substr(1);
    }
  } else if (const auto colon = text.find(':'); colon == std::string_view::npos) {
    host = text;
  } else if (text.find(':', colon + 1) == std::string_view::npos) {
    host = text.substr(0, colon);
    has_port = true;
    port = text.substr(colon + 1);
  } else {
    if (!is_ipv6_literal(text)) {
      return failed(text, "more than one ':' outside brackets", rules);
    }
    host = text;
    v6 = true;
  }
  if (host.empty()) {
    if (!rules.empty_host || !has_port) {
      return failed(text, "no host", rules);
    }
  } else if (!v6) {
    for (const char c : host) {
      if (!is_name_char(c)) {
        return failed(text, "the host has a character not allowed in a host name or IPv4 address",
                      rules);
      }
    }
  }
  ParsedAddress r;
  r.address.host = std::string(host);
  if (!has_port) {
    if (!rules.default_port) {
      return failed(
          text,
          v6 && text.front() != '[' ? "no port; write an IPv6 address as [addr]:port" : "no port",
          rules);
    }
    r.address.port = *rules.default_port;
    return r;
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || ec != std::errc() || end != port.data() + port.size()) {
    return failed(text, "the port is not a number", rules);
  }
  if (value > 65535 || (value == 0 && !rules.port_zero)) {
    return failed(text, "the port is out of range", rules);
  }
  r.address.port = static_cast<std::uint16_t>(value);
  return r;
}

std::string_view host_part(std::string_view s) noexcept {
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    return s.substr(1, close == std::string_view::npos ? s.npos : close - 1);
  }
  if (const auto colon = s.find(':');
      colon != std::string_view::npos && s.find(':', colon + 1) == std::string_view::npos) {
    return s.substr(0, colon);
  }
  return s;
}

std::string format_host(std::string_view host) {
  if (host.find(':') == std::string_view::npos) {
    return std::string(host);
  }
  std::string out;
  out.reserve(host.size() + 2);
  out += '[';
  out += host;
  out += ']';
  return out;
}

std::string format_address(std::string_view host, unsigned port) {
  std::string out = format_host(host);
  out += ':';
  out += std::to_string(port);
  return out;
}

}  // namespace zmproxy::core

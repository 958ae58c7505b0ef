#include "lib/proxy/http/server_names.hpp"

#include <arpa/inet.h>

#include <array>

namespace zmproxy::proxy::http {

namespace {

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_reg_name(std::string_view s) noexcept {
  if (s.empty()) {
    return false;
  }
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::optional<std::array<unsigned char, 16>> parse_ipv6(std::string_view text) {
  if (text.empty() || text.size() > 64 || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string copy(text);
  std::array<unsigned char, 16> address{};
  if (inet_pton(AF_INET6, copy.c_str(), address.data()) != 1) {
    return std::nullopt;
  }
  return address;
}

bool valid_port(std::string_view port) noexcept {
  if (port.size() > 5) {
    return false;
  }
  unsigned value = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

// Lower case, one trailing dot removed.
std::string normalise_name(std::string_view name) {
  if (name.size() > 1 && name.back() == '.') {
    name.remove_suffix(1);
  }
  std::string out;
  out.reserve(name.size());
  for (const char c : name) {
    out.push_back(lower(c));
  }
  return out;
}

}  // namespace

std::optional<HostHeader> split_host_header(std::string_view host_header) {
  const std::string_view s = trim_ows(host_header);
  HostHeader out;
  std::string_view rest;
  if (s.starts_with('[')) {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    out.host = s.substr(1, close - 1);
    out.ipv6 = true;
    rest = s.substr(close + 1);
    if (!parse_ipv6(out.host)) {
      return std::nullopt;
    }
  } else {
    const std::size_t colon = s.find(':');
    out.host = s.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : s.substr(colon);
    if (!is_reg_name(out.host)) {
      return std::nullopt;
    }
  }
  if (!rest.empty()) {
    if (rest.front() != ':' || !valid_port(rest.substr(1))) {
      return std::nullopt;
    }
    out.port = rest.substr(1);
  }
  return out;
}

bool host_allowed(std::string_view host_header, const std::vector<std::string>& names, bool strict) {
  if (!strict) {
    return true;
  }
  const std::optional<HostHeader> host = split_host_header(host_header);
  if (!host) {
    return false;
  }
  const std::optional<std::array<unsigned char, 16>> host_v6 =
      host->ipv6 ? parse_ipv6(host->host) : std::nullopt;
  const std::string wanted = normalise_name(host->host);
  for (const std::string& raw : names) {
    std::string_view name = trim_ows(raw);
    if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
      name = name.substr(1, name.size() - 2);
    }
    if (name.empty()) {
      continue;
    }
    if (host_v6) {
      const std::optional<std::array<unsigned char, 16>> name_v6 = parse_ipv6(name);
      if (name_v6 && *name_v6 == *host_v6) {
        return true;
      }
      continue;
    }
    if (normalise_name(name) == wanted) {
      return true;
    }
  }
  return false;
}

}  // namespace zmproxy::proxy::http

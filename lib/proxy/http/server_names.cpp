#include "lib/proxy/http/server_names.hpp"

#include <arpa/inet.h>

#include <array>
#include <utility>

#include "lib/core/strings.hpp"

namespace zmproxy::proxy::http {

namespace {

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

// Lower case, one trailing dot removed.
std::string normalise_name(std::string_view name) {
  if (name.size() > 1 && name.back() == '.') {
    name.remove_suffix(1);
  }
  return core::to_lower(name);
}

}  // namespace

std::optional<HostHeader> split_host_header(std::string_view host_header) {
  std::string_view s = core::trim_ows(host_header);
  const bool bracketed = s.starts_with('[');
  if (!bracketed && s.find(':') != s.rfind(':')) {
    return std::nullopt;  // a bare IPv6 address: a Host must bracket it
  }
  if (bracketed ? s.ends_with("]:") : s.ends_with(':')) {
    s.remove_suffix(1);  // "host:" is "host" (RFC 3986 §3.2.3)
  }
  core::AddressRules rules;
  rules.default_port = 0;
  rules.port_zero = true;
  core::ParsedAddress parsed = core::parse_address(s, rules);
  if (!parsed || (bracketed && !parse_ipv6(parsed->host))) {
    return std::nullopt;
  }
  HostHeader out;
  out.address = std::move(parsed.address);
  out.has_port = bracketed ? !s.ends_with(']') : s.find(':') != std::string_view::npos;
  out.ipv6 = bracketed;
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
      host->ipv6 ? parse_ipv6(host->address.host) : std::nullopt;
  const std::string wanted = normalise_name(host->address.host);
  for (const std::string& raw : names) {
    std::string_view name = core::trim_ows(raw);
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

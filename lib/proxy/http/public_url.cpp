#include "lib/proxy/http/public_url.hpp"

#include <optional>

#include "lib/core/address.hpp"
#include "lib/core/strings.hpp"

namespace zmproxy::proxy::http {

namespace {

std::string_view trim_slashes(std::string_view s) noexcept {
  while (!s.empty() && s.back() == '/') {
    s.remove_suffix(1);
  }
  return s;
}

bool valid_port(int port) noexcept {
  return port > 0 && port <= 65535;
}

int default_port(std::string_view scheme) noexcept {
  return scheme == "http" ? 80 : 443;
}

// "http" or "https" for those (any case), else nullopt.
std::optional<std::string> protocol(std::string_view text) {
  std::string p = core::to_lower(core::trim_ows(text));
  if (p == "http" || p == "https") {
    return p;
  }
  return std::nullopt;
}

std::string base(std::string_view scheme, std::string_view host, int port) {
  std::string out(scheme);
  out += "://";
  out += host.starts_with('[') ? std::string(host) : core::format_host(host);
  if (valid_port(port) && port != default_port(scheme)) {
    out += ':';
    out += std::to_string(port);
  }
  return out;
}

// scheme://host[:port] at the start of an absolute http(s) URL.
struct Origin {
  std::string scheme;  // lower case
  std::string host;    // lower case, without brackets
  int port = 0;        // explicit or the scheme's default
  std::size_t end = 0; // where the origin ends in the text
};

std::optional<Origin> parse_origin(std::string_view url) {
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return std::nullopt;
  }
  Origin o;
  o.scheme = core::to_lower(url.substr(0, sep));
  if (o.scheme != "http" && o.scheme != "https") {
    return std::nullopt;
  }
  const std::size_t start = sep + 3;
  const std::size_t end = url.find_first_of("/?#", start);
  o.end = end == std::string_view::npos ? url.size() : end;
  std::string_view authority = url.substr(start, o.end - start);
  if (authority.find('@') != std::string_view::npos ||
      (!authority.starts_with('[') && authority.find(':') != authority.rfind(':'))) {
    return std::nullopt;  // user information, or an IPv6 address without brackets
  }
  if (authority.starts_with('[') ? authority.ends_with("]:") : authority.ends_with(':')) {
    authority.remove_suffix(1);  // "host:" is "host" (RFC 3986 §3.2.3)
  }
  core::AddressRules rules;
  rules.default_port = static_cast<std::uint16_t>(default_port(o.scheme));
  const core::ParsedAddress a = core::parse_address(authority, rules);
  if (!a) {
    return std::nullopt;
  }
  o.host = core::to_lower(a->host);
  o.port = a->port;
  return o;
}

}  // namespace

std::string public_base_url(const PublicUrlInput& in) {
  std::string_view host = core::trim_ows(in.domain_public_hostname);
  if (host.empty()) {
    host = core::trim_ows(in.global_public_hostname);
  }
  if (!host.empty()) {
    std::string scheme = protocol(in.domain_public_protocol)
                             .value_or(protocol(in.global_public_protocol).value_or("https"));
    const int port = valid_port(in.domain_public_port)   ? in.domain_public_port
                     : valid_port(in.global_public_port) ? in.global_public_port
                                                          : 0;
    return base(scheme, host, port);
  }
  const std::string_view server = core::trim_ows(in.server_hostname);
  if (server.empty()) {
    return {};
  }
  if (core::to_lower(core::trim_ows(in.server_mail_mode)) == "http") {
    return base("http", server, in.server_http_port);
  }
  return base("https", server, in.server_https_port);
}

std::string rewrite_location(std::string_view location, std::string_view internal_base,
                             std::string_view public_base) {
  const std::string_view internal = trim_slashes(core::trim_ows(internal_base));
  const std::string_view replacement = trim_slashes(core::trim_ows(public_base));
  const std::optional<Origin> from = parse_origin(internal);
  const std::optional<Origin> loc = parse_origin(location);
  if (replacement.empty() || !from || from->end != internal.size() || !loc ||
      loc->scheme != from->scheme || loc->host != from->host || loc->port != from->port) {
    return std::string(location);
  }
  std::string out(replacement);
  out += location.substr(loc->end);
  return out;
}

}  // namespace zmproxy::proxy::http

#include "lib/proxy/http/public_url.hpp"

#include <optional>

namespace zmproxy::proxy::http {

namespace {

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    out.push_back(lower(c));
  }
  return out;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

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
  std::string p = to_lower(trim(text));
  if (p == "http" || p == "https") {
    return p;
  }
  return std::nullopt;
}

std::string base(std::string_view scheme, std::string_view host, int port) {
  std::string out(scheme);
  out += "://";
  if (host.find(':') != std::string_view::npos && !host.starts_with('[')) {
    out.append("[").append(host).append("]");
  } else {
    out += host;
  }
  if (valid_port(port) && port != default_port(scheme)) {
    out += ':';
    out += std::to_string(port);
  }
  return out;
}

// scheme://host[:port] at the start of an absolute http(s) URL.
struct Origin {
  std::string scheme;  // lower case
  std::string host;    // lower case, brackets kept
  int port = 0;        // explicit or the scheme's default
  std::size_t end = 0; // where the origin ends in the text
};

std::optional<Origin> parse_origin(std::string_view url) {
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return std::nullopt;
  }
  Origin o;
  o.scheme = to_lower(url.substr(0, sep));
  if (o.scheme != "http" && o.scheme != "https") {
    return std::nullopt;
  }
  const std::size_t start = sep + 3;
  const std::size_t end = url.find_first_of("/?#", start);
  o.end = end == std::string_view::npos ? url.size() : end;
  const std::string_view authority = url.substr(start, o.end - start);
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    host = authority.substr(0, close + 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return std::nullopt;
      }
      port = rest.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (host.empty() || port.size() > 5) {
    return std::nullopt;
  }
  int value = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
  }
  if (port.empty()) {
    value = default_port(o.scheme);
  } else if (!valid_port(value)) {
    return std::nullopt;
  }
  o.host = to_lower(host);
  o.port = value;
  return o;
}

}  // namespace

std::string public_base_url(const PublicUrlInput& in) {
  std::string_view host = trim(in.domain_public_hostname);
  if (host.empty()) {
    host = trim(in.global_public_hostname);
  }
  if (!host.empty()) {
    std::string scheme = protocol(in.domain_public_protocol)
                             .value_or(protocol(in.global_public_protocol).value_or("https"));
    const int port = valid_port(in.domain_public_port)   ? in.domain_public_port
                     : valid_port(in.global_public_port) ? in.global_public_port
                                                          : 0;
    return base(scheme, host, port);
  }
  const std::string_view server = trim(in.server_hostname);
  if (server.empty()) {
    return {};
  }
  if (to_lower(trim(in.server_mail_mode)) == "http") {
    return base("http", server, in.server_http_port);
  }
  return base("https", server, in.server_https_port);
}

std::string rewrite_location(std::string_view location, std::string_view internal_base,
                             std::string_view public_base) {
  const std::string_view internal = trim_slashes(trim(internal_base));
  const std::string_view replacement = trim_slashes(trim(public_base));
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

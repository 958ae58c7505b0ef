#include "lib/proxy/http/mail_mode.hpp"

#include "lib/core/strings.hpp"
#include "lib/proxy/http/route_extract.hpp"
#include "lib/proxy/http/server_names.hpp"

#include <array>
#include <utility>

namespace zmproxy::proxy::http {

namespace {

constexpr std::array<std::pair<std::string_view, MailMode>, 5> k_modes{{
    {"http", MailMode::http},
    {"https", MailMode::https},
    {"both", MailMode::both},
    {"redirect", MailMode::redirect},
    {"mixed", MailMode::mixed},
}};

bool arg_is(std::string_view query, std::string_view name, std::string_view value) {
  const std::optional<std::string> arg = query_arg(query, name);
  return arg && *arg == value;
}

// The origin-form target for a Location: path and query (no fragment), never
// empty, with bytes that may not appear in a header value percent-encoded.
std::string location_target(std::string_view target) {
  std::string_view origin;
  if (target.starts_with('/')) {
    origin = target;
  } else if (core::istarts_with(target, "http://") || core::istarts_with(target, "https://")) {
    const std::string_view rest = target.substr(target.find("://") + 3);
    const std::size_t end = rest.find_first_of("/?#");
    origin = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  origin = origin.substr(0, origin.find('#'));
  std::string out;
  if (!origin.starts_with('/')) {
    out.push_back('/');
  }
  constexpr std::string_view k_hex = "0123456789ABCDEF";
  for (const char c : origin) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      out.push_back('%');
      out.push_back(k_hex[u >> 4]);
      out.push_back(k_hex[u & 0x0f]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

ModeDecision redirect_to(std::string_view scheme, std::string_view host_header, int port,
                         int default_port, std::string_view target, bool add_initmode) {
  ModeDecision d;
  const std::optional<HostHeader> host = split_host_header(host_header);
  if (!host) {
    d.bad_host = true;
    return d;
  }
  d.redirect = true;
  d.location.append(scheme).append("://");
  d.location.append(core::format_host(host->address.host));
  if (port > 0 && port <= 65535 && port != default_port) {
    d.location.append(":").append(std::to_string(port));
  }
  std::string path = location_target(target);
  if (add_initmode && !arg_is(split_target(path).query, "zminitmode", "http")) {
    const std::size_t q = path.find('?');
    if (q == std::string::npos) {
      path += '?';
    } else if (q + 1 != path.size() && path.back() != '&') {
      path += '&';
    }
    path += "zminitmode=http";
  }
  d.location += path;
  return d;
}

}  // namespace

std::optional<MailMode> parse_mail_mode(std::string_view text) {
  for (const auto& [name, mode] : k_modes) {
    if (core::iequals(text, name)) {
      return mode;
    }
  }
  return std::nullopt;
}

std::string_view mail_mode_name(MailMode mode) noexcept {
  for (const auto& [name, m] : k_modes) {
    if (m == mode) {
      return name;
    }
  }
  return {};
}

Listeners listeners_for(MailMode mode) noexcept {
  switch (mode) {
    case MailMode::http:
      return Listeners{true, false};
    case MailMode::https:
      return Listeners{false, true};
    case MailMode::both:
    case MailMode::redirect:
    case MailMode::mixed:
      break;
  }
  return Listeners{true, true};
}

ModeDecision decide(MailMode mode, bool request_is_tls, std::string_view host, std::string_view target,
                    bool has_auth_cookie, int https_port, int http_port) {
  const TargetParts parts = split_target(target);
  const bool changepass = parts.path.ends_with("changepass");
  const bool logout = arg_is(parts.query, "loginOp", "logout");
  switch (mode) {
    case MailMode::http:
    case MailMode::https:
    case MailMode::both:
      return {};
    case MailMode::redirect:
      if (request_is_tls) {
        return {};
      }
      return redirect_to("https", host, https_port, 443, target, false);
    case MailMode::mixed:
      if (!request_is_tls) {
        if (changepass) {
          return redirect_to("https", host, https_port, 443, target, false);
        }
        if (!has_auth_cookie || logout) {
          return redirect_to("https", host, https_port, 443, target, true);
        }
        return {};
      }
      if (has_auth_cookie && arg_is(parts.query, "zminitmode", "http") && !changepass && !logout) {
        return redirect_to("http", host, http_port, 80, target, false);
      }
      return {};
  }
  return {};
}

}  // namespace zmproxy::proxy::http

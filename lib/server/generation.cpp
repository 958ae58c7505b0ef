#include "lib/server/generation.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include "lib/config/domain_client_certs.hpp"
#include "lib/core/address.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/core/strings.hpp"
#include "lib/log/logger.hpp"
#include "lib/net/asio.hpp"
#include "lib/proxy/generation.hpp"
#include "lib/route/route_resolver.hpp"
#include "lib/tls/upstream_verify.hpp"

#include <algorithm>
#include <sys/socket.h>

namespace zmproxy::server {

using config::ProxyConfig;
using config::StartTls;

namespace {

route::ResolverSettings resolver_settings(const ProxyConfig& c) {
  route::ResolverSettings r;
  r.handlers = c.route.handlers;
  r.handler_timeout = c.route.lookup_timeout;
  r.retry_interval = c.route.handler_retry;
  r.secret = c.route.secret;
  r.caching = c.route.caching;
  r.cache_ttl = std::chrono::duration_cast<std::chrono::seconds>(c.route.cache_ttl);
  if (r.cache_ttl.count() == 0 && c.route.cache_ttl.count() > 0) {
    r.cache_ttl = std::chrono::seconds(1);
  }
  r.memcached.servers = c.route.memcached;
  r.memcached.timeout = c.route.memcached_timeout;
  r.mailbox_servers = c.route.mailbox_servers;
  r.local_capacity = static_cast<std::size_t>(c.route.local_cache_size);
  r.gssapi_admin_user = c.kerberos.admin_user;
  r.gssapi_admin_password = c.kerberos.admin_password;
  return r;
}

bool wants_tls(const ProxyConfig& c) {
  const bool mail = c.mail_enabled;
  return (mail && (c.imap.ssl_enabled || (c.imap.enabled && c.imap.starttls != StartTls::off) ||
                   c.pop3.ssl_enabled || (c.pop3.enabled && c.pop3.starttls != StartTls::off))) ||
         (c.http.enabled && c.http.mode != "http") || c.http.admin_enabled;
}

// host and port of "host:port", "[v6]:port" or "http://host:port/path";
// nothing when the text is not an address.
std::optional<core::Address> split_host_port(std::string_view s, std::uint16_t default_port) {
  if (const auto scheme = s.find("://"); scheme != std::string_view::npos) {
    s.remove_prefix(scheme + 3);
    s = s.substr(0, s.find('/'));
  }
  core::ParsedAddress a = core::parse_address(s, {default_port});
  if (!a) {
    return std::nullopt;
  }
  return std::move(a.address);
}

// A TCP connect within `timeout_ms`, for the start-up report only (control
// thread, before the workers serve).
bool reachable(const std::string& host, const std::string& port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) {
    return false;
  }
  bool ok = false;
  for (addrinfo* a = res; a && !ok; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      ok = ::poll(&p, 1, timeout_ms) == 1 &&
           ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return ok;
}

}  // namespace

std::vector<ListenerSpec> listener_specs(const ProxyConfig& c, bool have_tls) {
  std::vector<ListenerSpec> specs;
  const std::string& a = c.server.bind_address;
  if (c.mail_enabled) {
    if (c.imap.enabled)
      specs.push_back({Protocol::imap, a, c.imap.port, "imap.port"});
    if (c.imap.ssl_enabled && have_tls)
      specs.push_back({Protocol::imaps, a, c.imap.ssl_port, "imap.ssl_port"});
    if (c.pop3.enabled)
      specs.push_back({Protocol::pop3, a, c.pop3.port, "pop3.port"});
    if (c.pop3.ssl_enabled && have_tls)
      specs.push_back({Protocol::pop3s, a, c.pop3.ssl_port, "pop3.ssl_port"});
  }
  if (c.http.enabled) {
    if (c.http.mode != "https")
      specs.push_back({Protocol::http, a, c.http.port, "http.port"});
    if (c.http.mode != "http" && have_tls)
      specs.push_back({Protocol::https, a, c.http.ssl_port, "http.ssl_port"});
  }
  if (c.http.admin_enabled && have_tls) {
    specs.push_back({Protocol::admin, a, c.http.admin_port, "http.admin_port"});
  }
  if (config::certauth_listener(c.http) && have_tls) {
    specs.push_back({Protocol::certauth, a, c.http.certauth_port, "http.certauth_port"});
  }
  return specs;
}

Result<std::shared_ptr<proxy::Generation>> build_generation(
    std::shared_ptr<const ProxyConfig> config,
    const std::shared_ptr<const proxy::Generation>& previous) {
  const ProxyConfig& c = *config;
  auto next = std::make_shared<proxy::Generation>();
  next->config = config;
  // Built anew each generation: a reload reads a renewed CA bundle.
  if (auto client_tls = tls::make_upstream_context(c)) {
    next->client_tls = *client_tls;
    if (c.upstream.ssl && c.upstream.allow_untrusted_certs) {
      ZMPROXY_LOG(
          warn, "proxy",
          "upstream.allow_untrusted_certs is on (ssl_allow_untrusted_certs): mailbox server "
          "certificates are not verified, so passwords go to whoever answers at a route's address");
    }
  } else if (c.upstream.ssl) {
    return tl::unexpected(client_tls.error());
  }
  auto server_tls = tls::make_server_context(c);
  if (server_tls) {
    next->server_tls = *server_tls;
  } else if (wants_tls(c)) {
    // Without TLS, "starttls = only" would silently accept cleartext logins.
    return fail(Errc::invalid_argument,
                server_tls.error().message +
                    "; TLS listeners and STARTTLS need it (or set starttls = \"off\" and "
                    "ssl_enabled = false)");
  }
  if (config::client_cert_contexts_wanted(c.http)) {
    // Built anew each generation: a reload reads a renewed CA.
    auto client_cert_tls = tls::make_client_cert_context(c);
    if (!client_cert_tls) {
      return tl::unexpected(client_cert_tls.error());
    }
    next->client_cert_tls = *client_cert_tls;
  }
  if (previous && previous->config->route == c.route &&
      previous->config->kerberos.admin_user == c.kerberos.admin_user &&
      previous->config->kerberos.admin_password == c.kerberos.admin_password) {
    next->resolver = previous->resolver;
  } else {
    auto resolver = route::RouteResolver::create(resolver_settings(c));
    if (!resolver) {
      return fail(Errc::invalid_argument, "route settings: " + resolver.error().message);
    }
    next->resolver = *resolver;
  }
  if (previous && proxy::ThrottleGate::same_settings(*previous->config, c)) {
    next->throttle = previous->throttle;
  } else {
    auto gate = proxy::ThrottleGate::create(c);
    if (!gate) {
      return tl::unexpected(gate.error());
    }
    next->throttle = *gate;
  }
  // Carried over while [kerberos], the GSSAPI switches and the keytab file
  // are unchanged; a renewed keytab is read again.
  if (previous && previous->gssapi && previous->gssapi->serves(c)) {
    next->gssapi = previous->gssapi;
  } else {
    auto gssapi = proxy::GssapiGate::create(c);
    if (!gssapi) {
      return tl::unexpected(gssapi.error());
    }
    next->gssapi = *gssapi;
  }
  if (previous && previous->config->server.access_log == c.server.access_log) {
    next->access_log = previous->access_log;
  } else {
    next->access_log = std::make_shared<log::AccessLog>(
        c.server.access_log.empty() ? std::filesystem::path() : c.path(c.server.access_log));
  }
  // Kept across reloads (the same table while the upstreams and their
  // settings are unchanged; else each surviving address keeps its state): a
  // reload must not send requests again to a server just found down.
  next->web_health = proxy::UpstreamHealth::carried_over(
      {c.http.upstreams, c.http.admin_upstreams}, {c.http.max_fails, c.http.fail_timeout},
      previous ? previous->web_health : nullptr);
  if (c.http.enabled && c.http.strict_server_name && c.http.server_names.empty()) {
    ZMPROXY_LOG(warn, "proxy",
                "http.strict_server_name is on but http.server_names is empty: every Host is "
                "accepted until names are configured");
  }
  return next;
}

Result<void> check_tls(const ProxyConfig& c) {
  if (c.upstream.ssl) {
    if (auto client = tls::make_upstream_context(c); !client) {
      return tl::unexpected(client.error());
    }
  }
  if (!wants_tls(c)) {
    return {};
  }
  auto ctx = tls::make_server_context(c);
  if (!ctx) {
    return tl::unexpected(ctx.error());
  }
  if (config::client_cert_contexts_wanted(c.http)) {
    if (auto client_cert = tls::make_client_cert_context(c); !client_cert) {
      return tl::unexpected(client_cert.error());
    }
  }
  return {};
}

Result<void> probe_port(const ListenerSpec& spec) {
  boost::system::error_code ec;
  const auto address = net::asio::ip::make_address(spec.address, ec);
  if (ec) {
    return fail(Errc::invalid_argument,
                "server.bind_address '" + spec.address + "' is not an IP address");
  }
  net::asio::io_context io{1};
  net::tcp::acceptor probe(io);
  const net::tcp::endpoint ep(address, static_cast<unsigned short>(spec.port));
  probe.open(ep.protocol(), ec);
  if (!ec) {
    // SO_REUSEADDR only: a socket another program holds, even one with
    // SO_REUSEPORT, makes this fail instead of sharing its traffic.
    probe.set_option(net::tcp::acceptor::reuse_address(true), ec);
    probe.bind(ep, ec);
  }
  if (!ec) {
    return {};
  }
  const std::string fix =
      ec == boost::system::errc::permission_denied
          ? "ports below 1024 need root or CAP_NET_BIND_SERVICE (a zmproxyd started as root keeps it "
            "only when it starts with such a port); restart it as root, or change " +
                spec.attribute
          : "free the port or change " + spec.attribute;
  return fail(Errc::invalid_argument,
              fmt::format("cannot listen for {} on {}: {}; {}", protocol_name(spec.protocol),
                          core::format_address(spec.address, static_cast<unsigned>(spec.port)),
                          ec.message(), fix));
}

Result<void> check_ports_free(const ProxyConfig& c, const std::vector<int>& held) {
  for (const ListenerSpec& spec : listener_specs(c, true)) {
    if (spec.port == 0 || std::find(held.begin(), held.end(), spec.port) != held.end()) {
      continue;
    }
    if (auto ok = probe_port(spec); !ok) {
      return ok;
    }
  }
  return {};
}

std::vector<int> held_ports(const std::filesystem::path& addr_file) {
  std::vector<int> ports;
  auto text = core::read_file(addr_file);
  if (!text) {
    return ports;
  }
  for (const std::string& line : core::split(*text, '\n')) {
    // "<listener> <host:port>", as write_addresses formats it.
    const auto space = line.find(' ');
    if (space == std::string::npos) {
      continue;
    }
    const std::string_view address = std::string_view(line).substr(space + 1);
    const core::ParsedAddress a = core::parse_address(address, {std::nullopt, true, false});
    if (a) {
      ports.push_back(a->port);
    } else if (const auto colon = address.rfind(':'); colon != std::string_view::npos) {
      // Written by a zmproxyd from before [v6]:port (during an upgrade):
      // "imap ::1:143". Its port is still held.
      ports.push_back(std::atoi(std::string(address.substr(colon + 1)).c_str()));
    }
  }
  return ports;
}

void apply_logging(const ProxyConfig& c, const ProxyConfig* previous) {
  log::set_level(log::parse_level(c.server.log_level, log::Level::info));
  if (previous && previous->server.log_file != c.server.log_file) {
    if (!log::set_file(c.server.log_file.empty() ? std::filesystem::path()
                                                 : c.path(c.server.log_file))) {
      ZMPROXY_LOG(error, "proxy", "cannot open log file {}; logging stays where it was",
                  c.server.log_file);
    }
  }
}

void report_degraded(const ProxyConfig& c) {
  if (c.route.handlers.empty()) {
    ZMPROXY_LOG(warn, "proxy",
                "degraded: no lookup handlers configured; every login fails until route.handlers "
                "is set");
  } else {
    bool any = false;
    for (const std::string& h : c.route.handlers) {
      const auto a = split_host_port(h, 7072);
      any = any || (a && reachable(a->host, std::to_string(a->port), 500));
    }
    if (!any) {
      ZMPROXY_LOG(warn, "proxy",
                  "degraded: no lookup handler answers ({} configured); logins fail until one "
                  "does — serving anyway",
                  c.route.handlers.size());
    }
  }
  for (const std::string& m : c.route.memcached) {
    const auto a = split_host_port(m, 11211);
    if (!a || !reachable(a->host, std::to_string(a->port), 500)) {
      ZMPROXY_LOG(warn, "proxy",
                  "degraded: memcached {} does not answer; routes are looked up without it until "
                  "it does",
                  m);
    }
  }
}

}  // namespace zmproxy::server

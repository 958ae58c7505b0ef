#include "lib/server/proxy_server.hpp"

#include <csignal>
#include <thread>

#include "lib/core/atomic_file.hpp"
#include "lib/log/logger.hpp"
#include "lib/proxy/http/session.hpp"
#include "lib/proxy/imap/client_session.hpp"
#include "lib/proxy/mail/session.hpp"
#include "lib/proxy/pop3/client_session.hpp"
#include "lib/route/route_resolver.hpp"

namespace zmproxy::server {

namespace {

namespace asio = net::asio;
using net::tcp;
using asio::awaitable;

enum class Protocol { imap, imaps, pop3, pop3s, http, https, admin };

struct ListenerSpec {
  Protocol protocol;
  const char* name;
  int port;
};

struct Worker {
  asio::io_context io{1};
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::atomic<int> connections{0};
  std::thread thread;
};

Result<route::ResolverSettings> resolver_settings(const ProxyConfig& c) {
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
  return r;
}

}  // namespace

struct ProxyServer::Impl {
  std::shared_ptr<const ProxyConfig> config;
  std::shared_ptr<const proxy::mail::Shared> shared;
  std::vector<std::unique_ptr<Worker>> workers;

  awaitable<void> accept_loop(Worker& w, tcp::acceptor& acceptor, Protocol protocol) {
    const int limit = config->server.worker_connections;
    while (true) {
      auto [ec, socket] = co_await acceptor.async_accept(net::use_nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted) {
          co_return;
        }
        // Out of descriptors and the like: back off a little, keep serving.
        asio::steady_timer t(w.io);
        t.expires_after(std::chrono::milliseconds(50));
        co_await t.async_wait(net::use_nothrow);
        continue;
      }
      if (w.connections.load() >= limit) {
        ZMPROXY_LOG(warn, "proxy", "worker connection limit {} reached; refusing a connection", limit);
        continue;  // the socket closes here
      }
      w.connections++;
      auto done = [&w](std::exception_ptr e) {
        w.connections--;
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            ZMPROXY_LOG(error, "proxy", "session ended with an error: {}", ex.what());
          }
        }
      };
      switch (protocol) {
        case Protocol::imap:
          asio::co_spawn(w.io, proxy::imap::run_session(shared, std::move(socket), false), done);
          break;
        case Protocol::imaps:
          asio::co_spawn(w.io, proxy::imap::run_session(shared, std::move(socket), true), done);
          break;
        case Protocol::pop3:
          asio::co_spawn(w.io, proxy::pop3::run_session(shared, std::move(socket), false), done);
          break;
        case Protocol::pop3s:
          asio::co_spawn(w.io, proxy::pop3::run_session(shared, std::move(socket), true), done);
          break;
        case Protocol::http:
          asio::co_spawn(w.io, proxy::http::run_session(shared, std::move(socket), false), done);
          break;
        case Protocol::https:
          asio::co_spawn(w.io, proxy::http::run_session(shared, std::move(socket), true), done);
          break;
        case Protocol::admin:
          asio::co_spawn(w.io, proxy::http::run_session(shared, std::move(socket), true, true), done);
          break;
      }
    }
  }
};

ProxyServer::ProxyServer(std::shared_ptr<const ProxyConfig> config) : m_impl(std::make_unique<Impl>()) {
  m_impl->config = std::move(config);
}

ProxyServer::~ProxyServer() = default;

int ProxyServer::run() {
  Impl& s = *m_impl;
  const ProxyConfig& c = *s.config;
  auto shared = std::make_shared<proxy::mail::Shared>();
  shared->config = s.config;
  shared->client_tls = tls::make_client_context();
  auto server_tls = tls::make_server_context(c);
  if (server_tls) {
    shared->server_tls = *server_tls;
  } else {
    // Without TLS, "starttls = only" would silently accept cleartext logins:
    // refuse to start whenever a listener needs TLS.
    const bool mail = c.mail_enabled;
    const bool wants_tls =
        (mail && ((c.imap.ssl_enabled) || (c.imap.enabled && c.imap.starttls != StartTls::off) ||
                  (c.pop3.ssl_enabled) || (c.pop3.enabled && c.pop3.starttls != StartTls::off))) ||
        (c.http.enabled && c.http.mode != "http") || c.http.admin_enabled;
    if (wants_tls) {
      ZMPROXY_LOG(error, "proxy", "{}; TLS listeners and STARTTLS need it (or set starttls = \"off\" and "
                  "ssl_enabled = false)", server_tls.error().message);
      return 1;
    }
  }
  auto rs = resolver_settings(c);
  auto resolver = route::RouteResolver::create(*rs);
  if (!resolver) {
    ZMPROXY_LOG(error, "proxy", "route settings: {}", resolver.error().message);
    return 1;
  }
  if (c.http.enabled && c.http.strict_server_name && c.http.server_names.empty()) {
    ZMPROXY_LOG(warn, "proxy", "http.strict_server_name is on but http.server_names is empty: every Host is "
                "accepted until names are configured");
  }
  if (c.route.handlers.empty()) {
    ZMPROXY_LOG(warn, "proxy", "no lookup handlers configured: every login will fail until route.handlers is set");
  }
  shared->resolver = *resolver;
  shared->access_log = std::make_shared<log::AccessLog>(c.server.access_log.empty() ? std::filesystem::path()
                                                                                    : c.path(c.server.access_log));
  shared->imap_counters = std::make_shared<proxy::mail::Counters>();
  shared->pop3_counters = std::make_shared<proxy::mail::Counters>();
  s.shared = shared;

  std::vector<ListenerSpec> specs;
  if (c.mail_enabled) {
    if (c.imap.enabled) specs.push_back({Protocol::imap, "imap", c.imap.port});
    if (c.imap.ssl_enabled && shared->server_tls) specs.push_back({Protocol::imaps, "imaps", c.imap.ssl_port});
    if (c.pop3.enabled) specs.push_back({Protocol::pop3, "pop3", c.pop3.port});
    if (c.pop3.ssl_enabled && shared->server_tls) specs.push_back({Protocol::pop3s, "pop3s", c.pop3.ssl_port});
  }
  if (c.http.enabled) {
    if (c.http.mode != "https") specs.push_back({Protocol::http, "http", c.http.port});
    if (c.http.mode != "http" && shared->server_tls) specs.push_back({Protocol::https, "https", c.http.ssl_port});
  }
  if (c.http.admin_enabled && shared->server_tls) {
    specs.push_back({Protocol::admin, "admin", c.http.admin_port});
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(c.server.bind_address, ec);
  if (ec) {
    ZMPROXY_LOG(error, "proxy", "server.bind_address '{}' is not an IP address", c.server.bind_address);
    return 1;
  }
  for (int i = 0; i < c.server.workers; ++i) {
    s.workers.push_back(std::make_unique<Worker>());
  }
  std::string addresses;
  for (ListenerSpec& spec : specs) {
    for (auto& w : s.workers) {
      auto acceptor = std::make_unique<tcp::acceptor>(w->io);
      tcp::endpoint ep(address, static_cast<unsigned short>(spec.port));
      acceptor->open(ep.protocol(), ec);
      if (!ec) {
        acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
        const int one = 1;
        ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        acceptor->bind(ep, ec);
      }
      if (!ec) {
        acceptor->listen(asio::socket_base::max_listen_connections, ec);
      }
      if (ec) {
        ZMPROXY_LOG(error, "proxy", "cannot listen for {} on {}:{}: {}; free the port or change it in {}",
                    spec.name, c.server.bind_address, spec.port, ec.message(), c.file.string());
        return 1;
      }
      // Port 0: the first worker's port is everyone's.
      spec.port = acceptor->local_endpoint().port();
      w->acceptors.push_back(std::move(acceptor));
    }
    addresses += std::string(spec.name) + " " + c.server.bind_address + ":" + std::to_string(spec.port) + "\n";
    if (spec.protocol == Protocol::http) {
      shared->http_port = spec.port;
    } else if (spec.protocol == Protocol::https) {
      shared->https_port = spec.port;
    }
  }
  for (auto& w : s.workers) {
    for (std::size_t i = 0; i < specs.size(); ++i) {
      asio::co_spawn(w->io, s.accept_loop(*w, *w->acceptors[i], specs[i].protocol), asio::detached);
    }
  }
  if (auto wr = core::write_file_atomic(c.home / "run" / "zmproxyd.addr", addresses); !wr) {
    std::error_code fec;
    std::filesystem::create_directories(c.home / "run", fec);
    (void)core::write_file_atomic(c.home / "run" / "zmproxyd.addr", addresses);
  }
  for (auto& w : s.workers) {
    Worker* wp = w.get();
    w->thread = std::thread([wp] {
      auto guard = asio::make_work_guard(wp->io);
      wp->io.run();
    });
  }
  ZMPROXY_LOG(info, "proxy", "serving with {} workers: {}", c.server.workers,
              addresses.empty() ? std::string("no listeners") : addresses.substr(0, addresses.size() - 1));

  // Wait for SIGTERM/SIGINT on this thread (blocked in every thread by main).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  int sig = 0;
  while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
    ZMPROXY_LOG(warn, "proxy", "SIGHUP: hot reload is not available in this version; restart to apply changes");
  }
  ZMPROXY_LOG(info, "proxy", "stopping (signal {})", sig);
  for (auto& w : s.workers) {
    asio::post(w->io, [wp = w.get()] {
      for (auto& a : wp->acceptors) {
        boost::system::error_code ignored;
        a->close(ignored);
      }
    });
  }
  // Sessions are cut at stop; a graceful drain comes with zmproxyctl.
  for (auto& w : s.workers) {
    w->io.stop();
  }
  for (auto& w : s.workers) {
    if (w->thread.joinable()) {
      w->thread.join();
    }
  }
  std::error_code fec;
  std::filesystem::remove(c.home / "run" / "zmproxyd.addr", fec);
  return 0;
}

}  // namespace zmproxy::server

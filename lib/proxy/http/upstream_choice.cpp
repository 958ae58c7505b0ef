#include "lib/proxy/http/upstream_choice.hpp"

#include "lib/log/logger.hpp"
#include "lib/net/deadline.hpp"
#include "lib/net/stream_io.hpp"
#include "lib/net/tls_stream.hpp"
#include "lib/proxy/generation.hpp"
#include "lib/proxy/http/client_connection.hpp"
#include "lib/proxy/ktls_count.hpp"
#include "lib/route/route_resolver_asio.hpp"
#include "lib/tls/upstream_verify.hpp"

#include <variant>

namespace zmproxy::proxy::http {

namespace asio = net::asio;
using asio::awaitable;

// The servers to try for `key`, in order: the looked-up route's, else (no
// key, or no route) the IP hash's over the configured peers. nullopt when
// the lookup refused the request (the user's domain may not use this
// address).
awaitable<std::optional<std::vector<Target>>> choose_targets(ClientConnection& c,
                                                             const RouteKey& key,
                                                             std::string_view host) {
  std::vector<Target> targets;
  if (key.kind != RouteKey::Kind::ip_hash) {
    // Named before co_await (GCC 12 and class temporaries: session_driver.hpp).
    route::RouteQuery query =
        route_query(key, c.cfg.upstream.ssl, c.admin, c.info.client_ip, c.info.local_ip, host);
    auto r = co_await route::resolve(c.shared->resolver, std::move(query));
    if (auto* found = std::get_if<route::Route>(&r)) {
      targets.push_back(routed_target(*found, key));
    } else if (const route::RouteError& err = std::get<route::RouteError>(r);
               err.code == Errc::permission_denied) {
      co_return std::nullopt;
    } else if (err.code == Errc::unavailable) {
      // The handlers' failures are in the message (one line).
      ZMPROXY_LOG(warn, "http", "{}: route lookup failed, the IP hash chooses: {}",
                  c.info.client_ip, err.message);
    }
  }
  if (targets.empty()) {
    targets = ip_hash_targets(c.admin ? c.cfg.http.admin_upstreams : c.cfg.http.upstreams,
                              c.info.client_ip);
  }
  co_return targets;
}

// A new connection to `t` (TLS with its certificate checked when
// upstream.ssl); null when it cannot be had.
awaitable<std::unique_ptr<UpstreamConn>> open_upstream(ClientConnection& c, const Target& t) {
  const auto& h = c.cfg.http;
  auto socket = co_await net::connect_upstream(t.host, t.port, h.connect_timeout);
  if (!socket) {
    co_return nullptr;
  }
  auto conn = std::make_unique<UpstreamConn>();
  if (!c.cfg.upstream.ssl) {
    conn->stream = std::make_unique<net::tcp::socket>(std::move(*socket));
    co_return conn;
  }
  auto s = std::make_unique<net::TlsStream>(std::move(*socket), *c.shared->client_tls);
  if (!tls::expect_upstream(s->native_handle(), t.host, !c.cfg.upstream.allow_untrusted_certs)) {
    co_return nullptr;
  }
  const net::DeadlineScope deadline(s->get_executor(), s->next_layer(), h.connect_timeout);
  auto [hec] = co_await s->async_handshake(asio::ssl::stream_base::client, net::use_nothrow);
  if (hec || deadline.expired()) {
    if (const std::string why = tls::certificate_failure(s->native_handle()); !why.empty()) {
      ZMPROXY_LOG(warn, "http", "{}",
                  tls::untrusted_upstream_message(t.address(), why, c.cfg.upstream.ca_file));
    }
    co_return nullptr;
  }
  count_ktls(*s, c.counters);
  conn->stream = std::move(s);
  co_return conn;
}

}  // namespace zmproxy::proxy::http

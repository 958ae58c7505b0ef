#include "lib/proxy/mail/session.hpp"

#include <openssl/rand.h>

#include <stdexcept>

#include "lib/core/strings.hpp"
#include "lib/log/logger.hpp"
#include "lib/proxy/mail/upstream_text.hpp"
#include "lib/route/route_resolver_asio.hpp"
#include "lib/tls/upstream_verify.hpp"

namespace zmproxy::proxy::mail {

void SessionInfo::log_to(log::AccessLog& log) const {
  log::AccessRecord r;
  r.client = client_ip + ":" + std::to_string(client_port);
  r.protocol = protocol;
  r.user = user;
  r.upstream = upstream;
  r.bytes_in = bytes_in;
  r.bytes_out = bytes_out;
  r.millis = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
  r.outcome = outcome;
  log.write(r);
}

SessionInfo describe_peer(const tcp::socket& socket, std::string protocol) {
  SessionInfo info;
  info.protocol = std::move(protocol);
  boost::system::error_code ec;
  auto unmap = [](asio::ip::address a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
      return asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()));
    }
    return a;
  };
  const auto remote = socket.remote_endpoint(ec);
  if (!ec) {
    info.client_ip = unmap(remote.address()).to_string();
    info.client_port = remote.port();
  }
  const auto local = socket.local_endpoint(ec);
  if (!ec) {
    info.local_ip = unmap(local.address()).to_string();
    info.local_port = local.port();
  }
  return info;
}

awaitable<std::optional<tcp::socket>> connect_upstream(std::string host, int port,
                                                       std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  tcp::socket socket(ex);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) {
    // An address (the usual route): no resolver, which would run
    // getaddrinfo on a thread of its own.
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
    const DeadlineScope deadline(ex, socket, timeout);
    auto [cec] = co_await socket.async_connect(endpoint, net::use_nothrow);
    if (cec) {
      co_return std::nullopt;
    }
  } else {
    tcp::resolver resolver(ex);
    auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), net::use_nothrow);
    if (rec || results.empty()) {
      co_return std::nullopt;
    }
    const DeadlineScope deadline(ex, socket, timeout);
    auto [cec, ep] = co_await asio::async_connect(socket, results, net::use_nothrow);
    if (cec) {
      co_return std::nullopt;
    }
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  co_return std::optional<tcp::socket>(std::move(socket));
}

awaitable<bool> handshake(TlsStream& s, asio::ssl::stream_base::handshake_type type,
                          std::chrono::milliseconds timeout) {
  const DeadlineScope deadline(s.get_executor(), s.next_layer(), timeout);
  auto [ec] = co_await s.async_handshake(type, net::use_nothrow);
  co_return !ec;
}

bool upstream_block_ok(std::string_view block, const char* component) {
  if (clean_command_block(block)) {
    return true;
  }
  // A bug, not a client's doing: every value was checked before it got here.
  ZMPROXY_LOG(error, component, "refused to send the mailbox a command with a bare CR, LF or NUL ({} bytes)",
              block.size());
  return false;
}

std::string new_proxy_tag(std::string_view avoid) {
  while (true) {
    std::uint64_t random = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&random), sizeof random) != 1) {
      throw std::runtime_error("OpenSSL's random generator failed");
    }
    std::string tag = proxy_tag(random);
    if (!core::iequals(tag, avoid)) {
      return tag;
    }
  }
}

awaitable<void> pause_for(std::chrono::milliseconds d) {
  if (d.count() <= 0) {
    co_return;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(net::use_nothrow);
}

awaitable<std::variant<MailboxConnection, route::RouteError>> connect_mailbox(
    std::shared_ptr<const Shared> shared, route::RouteQuery query, SessionInfo& info,
    const char* component) {
  const auto& cfg = *shared->config;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto resolved = co_await route::resolve(shared->resolver, query);
    if (auto* err = std::get_if<route::RouteError>(&resolved)) {
      co_return *err;
    }
    const route::Route route = std::get<route::Route>(resolved);
    info.upstream = route.host + ":" + std::to_string(route.port);
    auto socket = co_await connect_upstream(route.host, route.port, cfg.upstream.connect_timeout);
    if (socket && !cfg.upstream.ssl) {
      co_return MailboxConnection{route, std::make_unique<tcp::socket>(std::move(*socket))};
    }
    if (socket) {
      auto stream = std::make_unique<TlsStream>(std::move(*socket), *shared->client_tls);
      if (tls::expect_upstream(stream->native_handle(), route.host,
                               !cfg.upstream.allow_untrusted_certs) &&
          co_await handshake(*stream, asio::ssl::stream_base::client,
                             cfg.upstream.connect_timeout)) {
        co_return MailboxConnection{route, std::move(stream)};
      }
      if (const std::string why = tls::certificate_failure(stream->native_handle()); !why.empty()) {
        // Not a moved mailbox: asking again would find the same server. The
        // login stops here, before any credential is sent; the session logs
        // this text (one line) and answers UNAVAILABLE.
        co_return route::RouteError{
            Errc::unavailable,
            tls::untrusted_upstream_message(info.upstream, why, cfg.upstream.ca_file), 0};
      }
    }
    // The mailbox may have moved: forget the route and ask once more.
    ZMPROXY_LOG(warn, component, "{}: cannot connect to {} for {}", info.client_ip, info.upstream, query.user);
    co_await route::invalidate(shared->resolver, query.user, info.local_ip);
  }
  co_return route::RouteError{Errc::unavailable, "the mailbox server is not reachable", 0};
}

}  // namespace zmproxy::proxy::mail

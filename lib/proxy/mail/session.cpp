#include "lib/proxy/mail/session.hpp"

#include "lib/core/strings.hpp"
#include "lib/log/logger.hpp"
#include "lib/net/proxy_header_read.hpp"
#include "lib/proxy/mail/mailbox_login.hpp"
#include "lib/proxy/mail/upstream_text.hpp"
#include "lib/route/route_resolver_asio.hpp"
#include "lib/tls/upstream_verify.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace zmproxy::proxy::mail {

bool upstream_block_ok(std::string_view block, const char* component) {
  if (clean_command_block(block)) {
    return true;
  }
  // A bug, not a client's doing: every value was checked before it got here.
  ZMPROXY_LOG(error, component, "refused to send the mailbox a command with a bare CR, LF or NUL ({} bytes)",
              block.size());
  return false;
}

namespace {

// 64-bit values from OpenSSL's generator, drawn 64 at a time per thread:
// RAND_bytes makes a getpid system call each time (its fork check), which
// was one of an IMAP session's calls (bench/syscalls).
std::uint64_t next_random() {
  thread_local std::array<std::uint64_t, 64> pool;
  thread_local std::size_t left = 0;
  if (left == 0) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(pool.data()), sizeof pool) != 1) {
      throw std::runtime_error("OpenSSL's random generator failed");
    }
    left = pool.size();
  }
  const std::uint64_t value = pool[--left];
  pool[left] = 0;  // used once
  return value;
}

}  // namespace

std::string new_proxy_tag(std::string_view avoid) {
  while (true) {
    std::string tag = proxy_tag(next_random());
    if (!core::iequals(tag, avoid)) {
      return tag;
    }
  }
}

void strip_suffix(Login& login) {
  std::string& user = login.user;
  for (std::string_view sfx : {"/tb", "/wm", "/ni"}) {
    if (user.size() > sfx.size() && core::iequals(std::string_view(user).substr(user.size() - sfx.size()), sfx)) {
      login.suffix = user.substr(user.size() - sfx.size());
      user.resize(user.size() - sfx.size());
      return;
    }
  }
}

namespace {

// upstream.proxy_protocol: the client's address as the mailbox's first bytes.
awaitable<bool> send_proxy_header(tcp::socket& socket, const SessionInfo& info,
                                  std::chrono::milliseconds timeout) {
  boost::system::error_code client_ec;
  boost::system::error_code local_ec;
  const auto client = asio::ip::make_address(info.client_ip, client_ec);
  const auto local = asio::ip::make_address(info.local_ip, local_ec);
  if (client_ec || local_ec) {
    co_return false;
  }
  const std::string header =
      net::proxy_v2_header(tcp::endpoint(client, info.client_port), tcp::endpoint(local, info.local_port));
  std::uint64_t sent = 0;
  co_return co_await net::write_all(socket, header, timeout, sent);
}

}  // namespace

awaitable<std::variant<MailboxConnection, route::RouteError, Unreachable>> connect_route(
    std::shared_ptr<const Generation> shared, route::Route route, SessionInfo& info) {
  const auto& cfg = *shared->config;
  info.upstream = route.host + ":" + std::to_string(route.port);
  std::string why;
  auto socket =
      co_await connect_upstream(route.host, route.port, cfg.upstream.connect_timeout, &why);
  if (socket && cfg.upstream.proxy_protocol &&
      !co_await send_proxy_header(*socket, info, cfg.upstream.connect_timeout)) {
    socket.reset();
    why = "the PROXY protocol header could not be sent";
  }
  if (socket && !cfg.upstream.ssl) {
    co_return MailboxConnection{std::move(route), std::make_unique<tcp::socket>(std::move(*socket))};
  }
  if (socket) {
    auto stream = std::make_unique<TlsStream>(std::move(*socket), *shared->client_tls);
    if (tls::expect_upstream(stream->native_handle(), route.host,
                             !cfg.upstream.allow_untrusted_certs) &&
        co_await handshake(*stream, asio::ssl::stream_base::client, cfg.upstream.connect_timeout,
                           &why)) {
      co_return MailboxConnection{std::move(route), std::move(stream)};
    }
    if (const std::string bad = tls::certificate_failure(stream->native_handle()); !bad.empty()) {
      // Not a moved mailbox: asking again would find the same server. The
      // login stops here, before any credential is sent; the session logs
      // this text (one line) and answers UNAVAILABLE.
      co_return route::RouteError{
          Errc::unavailable,
          tls::untrusted_upstream_message(info.upstream, bad, cfg.upstream.ca_file), 0};
    }
  }
  co_return Unreachable{why.empty() ? std::string("no connection") : std::move(why)};
}

awaitable<std::variant<MailboxConnection, route::RouteError>> connect_mailbox(
    std::shared_ptr<const Generation> shared, route::RouteQuery query, SessionInfo& info,
    const char* component) {
  const std::string& who = query.is_gssapi() ? query.gssapi_principal : query.user;
  std::string first;  // the first attempt's failure, "host:port: why"
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto resolved = co_await route::resolve(shared->resolver, query);
    if (auto* err = std::get_if<route::RouteError>(&resolved)) {
      co_return *err;
    }
    route::Route route = std::get<route::Route>(resolved);
    auto connected = co_await connect_route(shared, std::move(route), info);
    if (auto* mailbox = std::get_if<MailboxConnection>(&connected)) {
      if (!first.empty()) {
        ZMPROXY_LOG(warn, component, "{}: cannot connect to {} for {}; looked up again, now {}",
                    info.client_ip, first, who, info.upstream);
      }
      co_return std::move(*mailbox);
    }
    if (auto* err = std::get_if<route::RouteError>(&connected)) {
      co_return std::move(*err);
    }
    const std::string why = std::get<Unreachable>(connected).why;
    if (!first.empty()) {
      // Both attempts failed: one error for the session to log (one line).
      const std::string before =
          first.rfind(info.upstream + ":", 0) == 0 ? std::string() : "; before it " + first;
      co_return route::RouteError{
          Errc::unavailable,
          "the mailbox server " + info.upstream + " is not reachable: " + why + before, 0};
    }
    first = info.upstream + ": " + why;
    // The mailbox may have moved: forget the route and ask once more.
    if (!query.is_gssapi()) {  // a gssapi route is never cached: asking again is enough
      co_await route::invalidate(shared->resolver, query.user, info.local_ip);
    }
  }
  co_return route::RouteError{Errc::unavailable, "the mailbox server is not reachable", 0};
}

}  // namespace zmproxy::proxy::mail

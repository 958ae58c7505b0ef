#pragma once
// What the IMAP and POP3 sessions share beyond the stream helpers
// (net/stream_io.hpp): the checked write of the proxy's own commands to a
// mailbox, the proxy's IMAP tag, and finding and connecting the user's
// mailbox. Asio heavy: included only by the session translation units.

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "lib/net/asio.hpp"
#include "lib/net/stream_io.hpp"
#include "lib/proxy/generation.hpp"
#include "lib/proxy/session_info.hpp"
#include "lib/route/route_resolver.hpp"

namespace zmproxy::proxy::mail {

namespace asio = net::asio;
using asio::awaitable;
using net::tcp;
using Clock = std::chrono::steady_clock;
// The stream helpers and the per-generation state the mail sessions use.
using net::TlsStream;
using net::DeadlineScope;
using net::coarse_now;
using net::lowest;
using net::has_pending;
using net::read_some;
using net::write_all;
using net::connect_upstream;
using net::handshake;
using net::pause_for;

// Write a block of the proxy's own commands to a mailbox within `timeout`.
// The last check before the mailbox: a block that is not whole CRLF lines
// free of NUL and bare CR/LF (clean_command_block) is not written, an error
// is logged and false returned, as for a failed write.
template <class Stream>
awaitable<bool> write_upstream(Stream& s, std::string_view block, std::chrono::milliseconds timeout,
                               std::uint64_t& counter);

// clean_command_block, and an error in the log naming `component` if not.
bool upstream_block_ok(std::string_view block, const char* component);

// A fresh tag for the proxy's own IMAP commands in one session (proxy_tag
// over 64 random bits from OpenSSL), never equal to `avoid` in any case.
std::string new_proxy_tag(std::string_view avoid);

// A connection to the user's mailbox server, TLS or not as configured.
struct MailboxConnection {
  route::Route route;
  std::variant<std::unique_ptr<tcp::socket>, std::unique_ptr<TlsStream>> stream;
};

// A mailbox that could not be reached (it may have moved): what failed,
// for the log ("no connection within 2000 ms", "the TLS handshake failed
// (...)", "the name does not resolve (...)").
struct Unreachable {
  std::string why;
};

// Connect to a route's mailbox (TLS handshake and certificate check
// included): the connection; a RouteError (unavailable) when its TLS
// certificate is refused; Unreachable when it does not answer (it may have
// moved: the caller may look the user up again).
awaitable<std::variant<MailboxConnection, route::RouteError, Unreachable>> connect_route(
    std::shared_ptr<const Generation> shared, route::Route route, SessionInfo& info);

// Look the user up and connect to the mailbox (TLS handshake included).
// When the connection fails, the route is forgotten and looked up once more:
// a moved mailbox is followed at once (one log line says so). Errors: the
// lookup's own (not_found, permission_denied with the handler's text), or
// Errc::unavailable ("the mailbox server host:port is not reachable: why",
// which the session logs: one line).
awaitable<std::variant<MailboxConnection, route::RouteError>> connect_mailbox(
    std::shared_ptr<const Generation> shared, route::RouteQuery query, SessionInfo& info,
    const char* component);

template <class Stream>
awaitable<bool> write_upstream(Stream& s, std::string_view block, std::chrono::milliseconds timeout,
                               std::uint64_t& counter) {
  if (!upstream_block_ok(block, "mail")) {
    co_return false;
  }
  co_return co_await write_all(s, block, timeout, counter);
}

}  // namespace zmproxy::proxy::mail

#pragma once
// What the IMAP and POP3 sessions share: the state every session of one
// configuration sees, per-session bookkeeping, timed reads and writes on a
// plain or TLS stream, upstream connection and the post-login relay. Asio
// heavy: included only by the session translation units.

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "lib/log/access_log.hpp"
#include "lib/net/asio.hpp"
#include "lib/proxy/mail/tls_stream.hpp"
#include "lib/route/route_resolver.hpp"
#include "lib/server/config.hpp"
#include "lib/tls/tls_context.hpp"

namespace zmproxy::proxy::mail {

namespace asio = net::asio;
using asio::awaitable;
using net::tcp;
using Clock = std::chrono::steady_clock;

// Live counters, per protocol, shared by every worker.
struct Counters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::int64_t> active{0};
  std::atomic<std::uint64_t> logins{0};
  std::atomic<std::uint64_t> login_failures{0};
};

// Everything sessions of one configuration generation share. Immutable.
struct Shared {
  std::shared_ptr<const server::ProxyConfig> config;
  std::shared_ptr<tls::Context> server_tls;  // null: no certificate, no TLS offered
  std::shared_ptr<tls::Context> client_tls;
  std::shared_ptr<route::RouteResolver> resolver;
  std::shared_ptr<log::AccessLog> access_log;
  std::shared_ptr<Counters> imap_counters;
  std::shared_ptr<Counters> pop3_counters;
  int http_port = 0;   // the web listeners' bound ports (for redirects)
  int https_port = 0;
};

struct SessionInfo {
  std::string protocol;  // imap imaps pop3 pop3s
  std::string client_ip;
  unsigned short client_port = 0;
  std::string local_ip;
  unsigned short local_port = 0;
  Clock::time_point started = Clock::now();
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::string user;
  std::string upstream;
  std::string outcome = "closed";

  void log_to(log::AccessLog& log) const;
};

SessionInfo describe_peer(const tcp::socket& socket, std::string protocol);

// ---- stream helpers (plain tcp::socket or TlsStream) ----

inline tcp::socket& lowest(tcp::socket& s) { return s; }
inline tcp::socket& lowest(TlsStream& s) { return s.next_layer(); }
inline bool has_pending(tcp::socket&) { return false; }
inline bool has_pending(TlsStream& s) { return SSL_pending(s.native_handle()) > 0; }

// Read whatever arrives (appending to `buffer`) within `timeout`.
// Returns false on EOF, error or timeout (`timed_out` tells which).
template <class Stream>
awaitable<bool> read_some(Stream& s, std::string& buffer, std::chrono::milliseconds timeout,
                          bool& timed_out, std::uint64_t& counter);

// Write all of `data` within `timeout`.
template <class Stream>
awaitable<bool> write_all(Stream& s, std::string_view data, std::chrono::milliseconds timeout,
                          std::uint64_t& counter);

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

// Connect to host:port (address or name) within `timeout`, TCP_NODELAY on.
awaitable<std::optional<tcp::socket>> connect_upstream(std::string host, int port,
                                                       std::chrono::milliseconds timeout);

// TLS handshake as server or client within `timeout`.
awaitable<bool> handshake(TlsStream& s, asio::ssl::stream_base::handshake_type type,
                          std::chrono::milliseconds timeout);

// Sleep without blocking the worker (the auth-failure wait).
awaitable<void> pause_for(std::chrono::milliseconds d);

// A connection to the user's mailbox server, TLS or not as configured.
struct MailboxConnection {
  route::Route route;
  std::variant<std::unique_ptr<tcp::socket>, std::unique_ptr<TlsStream>> stream;
};

// Look the user up and connect to the mailbox (TLS handshake included).
// When the connection fails, the route is forgotten and looked up once more:
// a moved mailbox is followed at once. Errors: the lookup's own (not_found,
// permission_denied with the handler's text), or Errc::unavailable.
awaitable<std::variant<MailboxConnection, route::RouteError>> connect_mailbox(
    std::shared_ptr<const Shared> shared, route::RouteQuery query, SessionInfo& info,
    const char* component);

}  // namespace zmproxy::proxy::mail

#include "lib/proxy/mail/session_impl.hpp"

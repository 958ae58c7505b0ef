#pragma once
// LookupClient: the resolver's side of the nginx-lookup protocol. It asks the
// Route Lookup Handlers (zmlookupd, or Zimbra's mailbox extension) where a
// user lives: round robin over the handlers, the next one when one fails, a
// failed handler tried last for retry_interval; HTTP/1.1 keep-alive
// connections kept per io_context (at most 8 idle per handler), a reused one
// that the handler closed meanwhile retried once on a fresh connection; those
// of a client that is gone (replaced by a reload) are closed by the next
// lookup on their context.
// Include only from .cpp files (it brings Asio).
//
// Threading: ask() runs on the caller's io_context; the handler state
// (round robin, failed marks, counters) is atomic and shared by all threads.

#include "lib/core/address.hpp"
#include "lib/core/result.hpp"
#include "lib/net/asio.hpp"
#include "lib/route/lookup_protocol.hpp"
#include "lib/route/route_resolver.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace zmproxy::route {

struct LookupHandler {
  core::Address address;    // where to connect
  std::string host_header;  // the Host field: the entry without scheme and path
};

// "host:port", "host" (port 7072) or "http://host:port/path"; https is
// refused (not supported yet). Errors are one line naming the entry.
Result<LookupHandler> parse_lookup_handler(std::string_view text);

// The order to try `count` handlers in: round robin from `start`, those
// `failed` says are still marked failed after the others.
std::vector<std::size_t> handler_order(std::size_t count,
                                       std::size_t start,
                                       const std::function<bool(std::size_t)>& failed);

// The request a query sends (the method by name or by zimbraId; gssapi with
// the principal as Auth-ID, the authorization identity, or the principal, as
// Auth-User, and the admin account's name and password; certauth with the
// subject as Auth-User and the same admin account).
LookupRequest lookup_request(const RouteQuery& q,
                             const std::string& secret,
                             const std::string& admin_user = {},
                             const std::string& admin_password = {});

class LookupClient {
 public:
  // The handlers, timeouts and secret of `settings`.
  static Result<std::unique_ptr<LookupClient>> create(const ResolverSettings& settings);
  ~LookupClient();
  LookupClient(const LookupClient&) = delete;
  LookupClient& operator=(const LookupClient&) = delete;

  // The first answer a handler gives (an error status included), else
  // Errc::unavailable when none answers or none is configured.
  net::asio::awaitable<std::variant<LookupResponse, RouteError>> ask(RouteQuery q);

  std::uint64_t lookups() const noexcept { return m_lookups; }
  std::uint64_t failures() const noexcept { return m_failures; }

 private:
  LookupClient() = default;
  // On failure (nullopt, an error code) `why` says what failed, for the log.
  net::asio::awaitable<std::optional<LookupResponse>> ask_handler(std::size_t index,
                                                                  RouteQuery q,
                                                                  std::string& why);
  net::asio::awaitable<std::pair<boost::system::error_code, LookupResponse>> ask_on(
      net::tcp::socket& socket,
      const LookupHandler& h,
      RouteQuery q,
      bool& keep_alive,
      std::string& why);

  std::uint64_t m_id = 0;  // this client's connections in the per-context pool
  // Expires with the client: its idle connections are closed by the next
  // lookup on their context (a reload that changes [route] replaces it).
  std::shared_ptr<const int> m_alive = std::make_shared<const int>(0);
  std::vector<LookupHandler> m_handlers;
  std::unique_ptr<std::atomic<std::int64_t>[]> m_failed_until;  // steady ms, per handler
  std::chrono::milliseconds m_handler_timeout{0};
  std::chrono::milliseconds m_connect_timeout{0};
  std::chrono::milliseconds m_retry_interval{0};
  std::string m_secret;
  std::string m_admin_user;
  std::string m_admin_password;
  std::atomic<std::size_t> m_next{0};
  std::atomic<std::uint64_t> m_lookups{0};
  std::atomic<std::uint64_t> m_failures{0};
};

}  // namespace zmproxy::route

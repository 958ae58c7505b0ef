#include "lib/route/lookup_client.hpp"

#include "lib/core/duration.hpp"
#include "lib/core/strings.hpp"
#include "lib/log/logger.hpp"
#include "lib/net/stream_io.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <map>
#include <optional>

namespace zmproxy::route {

namespace {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using net::tcp;

constexpr std::size_t k_max_idle_per_handler = 8;

std::atomic<std::uint64_t> g_next_client_id{1};

// Idle keep-alive connections to lookup handlers, per io_context: an Asio
// service, so the sockets are closed with their context, on its thread.
// Keyed by client id (a client replaced by a reload must not hand its
// connections to the next one); the connections of clients that are gone
// are closed at the next take or give_back on the context, so reloads do
// not pile them up.
class HandlerConnections : public asio::execution_context::service {
 public:
  using key_type = HandlerConnections;
  static inline asio::execution_context::id id;  // NOLINT: Asio's service idiom

  explicit HandlerConnections(asio::execution_context& ctx) : service(ctx) {}

  // `owner`: the client's unique id (never an address: a client replaced by
  // a reload must not hand its connections to the next one).
  std::optional<tcp::socket> take(std::uint64_t owner, std::size_t handler) {
    drop_gone();
    const auto found = m_idle.find({owner, handler});
    if (found == m_idle.end()) {
      return std::nullopt;
    }
    auto& idle = found->second.sockets;
    while (!idle.empty()) {
      tcp::socket s = std::move(idle.back());
      idle.pop_back();
      if (s.is_open()) {
        return s;
      }
    }
    return std::nullopt;
  }

  void give_back(std::uint64_t owner,
                 const std::shared_ptr<const int>& alive,
                 std::size_t handler,
                 tcp::socket s) {
    drop_gone();
    auto& idle = m_idle[{owner, handler}];
    idle.alive = alive;
    if (idle.sockets.size() < k_max_idle_per_handler) {
      idle.sockets.push_back(std::move(s));
    }
  }

 private:
  struct Idle {
    std::weak_ptr<const int> alive;  // the owning client's
    std::vector<tcp::socket> sockets;
  };
  // A handful of entries (clients x handlers): walked at every lookup.
  void drop_gone() {
    std::erase_if(m_idle, [](const auto& entry) { return entry.second.alive.expired(); });
  }
  void shutdown() override { m_idle.clear(); }
  std::map<std::pair<std::uint64_t, std::size_t>, Idle> m_idle;
};

// A fresh connection to a handler, or nullopt (and `why`) when it cannot be
// reached (net::connect_upstream: no resolver for an address, a deadline on
// the name's resolution).
awaitable<std::optional<tcp::socket>> connect_to(const LookupHandler& h,
                                                 std::chrono::milliseconds timeout,
                                                 std::string& why) {
  auto socket = co_await net::connect_upstream(h.address.host, h.address.port, timeout, &why);
  if (!socket) {
    why = "cannot connect: " + why;
  }
  co_return socket;
}

// What a failed exchange with a handler was, for the log.
std::string exchange_failure(const boost::system::error_code& ec,
                             std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) {
    return "no answer within " + std::to_string(timeout.count()) + " ms";
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == asio::error::eof) {
    return "closed the connection without a whole answer";
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return "answered something that is not HTTP (" + ec.message() + ")";
  }
  return "the connection failed (" + ec.message() + ")";
}

}  // namespace

Result<LookupHandler> parse_lookup_handler(std::string_view text) {
  std::string_view t = core::trim(text);
  for (std::string_view scheme : {"http://", "https://"}) {
    if (core::istarts_with(t, scheme)) {
      if (scheme == "https://") {
        return fail(Errc::invalid_argument, "lookup handler " + std::string(t) +
                                                ": https is not supported yet; use http://");
      }
      t.remove_prefix(scheme.size());
    }
  }
  t = t.substr(0, t.find('/'));
  const core::ParsedAddress parsed = core::parse_address(t, {7072});
  if (!parsed) {
    return fail(Errc::invalid_argument, "lookup handler: " + parsed.error);
  }
  return LookupHandler{*parsed, std::string(t)};
}

std::vector<std::size_t> handler_order(std::size_t count,
                                       std::size_t start,
                                       const std::function<bool(std::size_t)>& failed) {
  std::vector<std::size_t> order;
  std::vector<std::size_t> last;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t idx = (start + i) % count;
    (failed(idx) ? last : order).push_back(idx);
  }
  order.insert(order.end(), last.begin(), last.end());
  return order;
}

LookupRequest lookup_request(const RouteQuery& q,
                             const std::string& secret,
                             const std::string& admin_user,
                             const std::string& admin_password) {
  LookupRequest req;
  req.protocol = q.protocol;
  req.client_ip = q.client_ip;
  req.proxy_ip = q.proxy_ip;
  req.login_attempt = q.login_attempt;
  req.secret = secret;
  if (q.is_gssapi()) {
    req.method = "gssapi";
    req.user = q.user.empty() ? q.gssapi_principal : q.user;
    req.auth_id = q.gssapi_principal;
    req.admin_user = admin_user;
    req.admin_pass = admin_password;
    return req;
  }
  req.proxy_host = q.proxy_host;
  req.admin = q.admin;
  if (q.is_certauth()) {
    req.method = "certauth";
    req.user = q.certauth_subject;
    req.admin_user = admin_user;
    req.admin_pass = admin_password;
    req.login_attempt = 0;  // web: always 0, as nginx sends it
    return req;
  }
  req.method = q.by_id ? "zimbraId" : "username";
  req.user = q.user;
  return req;
}

Result<std::unique_ptr<LookupClient>> LookupClient::create(const ResolverSettings& settings) {
  std::unique_ptr<LookupClient> client(new LookupClient());
  client->m_id = g_next_client_id.fetch_add(1);
  for (const std::string& h : settings.handlers) {
    auto parsed = parse_lookup_handler(h);
    if (!parsed) {
      return tl::unexpected(parsed.error());
    }
    client->m_handlers.push_back(std::move(*parsed));
  }
  const std::size_t n = client->m_handlers.size();
  client->m_failed_until = std::make_unique<std::atomic<std::int64_t>[]>(n);
  for (std::size_t i = 0; i < n; ++i) {
    client->m_failed_until[i] = 0;
  }
  client->m_handler_timeout = settings.handler_timeout;
  client->m_connect_timeout = settings.connect_timeout;
  client->m_retry_interval = settings.retry_interval;
  client->m_secret = settings.secret;
  client->m_admin_user = settings.gssapi_admin_user;
  client->m_admin_password = settings.gssapi_admin_password;
  return client;
}

LookupClient::~LookupClient() = default;

// One request on one connection. Transport errors come back as error_code.
awaitable<std::pair<boost::system::error_code, LookupResponse>> LookupClient::ask_on(
    tcp::socket& socket, const LookupHandler& h, RouteQuery q, bool& keep_alive, std::string& why) {
  beast::tcp_stream stream(std::move(socket));
  const std::string wire = std::string("GET ") + std::string(k_lookup_path) + " HTTP/1.1\r\n" +
                           format_lookup_request(lookup_request(q, m_secret, m_admin_user, m_admin_password),
                                                 h.host_header) +
                           "\r\n";
  stream.expires_after(m_handler_timeout);
  auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(wire), net::use_nothrow);
  LookupResponse out;
  if (wec) {
    socket = stream.release_socket();
    why = exchange_failure(wec, m_handler_timeout);
    co_return std::make_pair(wec, out);
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(4096);
  parser.header_limit(8192);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, net::use_nothrow);
  socket = stream.release_socket();
  if (rec) {
    why = exchange_failure(rec, m_handler_timeout);
    co_return std::make_pair(rec, out);
  }
  const auto& res = parser.get();
  keep_alive = res.keep_alive();
  if (res.result() != http::status::ok) {
    why = "answered HTTP " + std::to_string(res.result_int());
    co_return std::make_pair(boost::system::error_code(asio::error::connection_refused), out);
  }
  Headers headers;
  for (const auto& f : res) {
    headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  auto parsed = parse_lookup_response(headers);
  if (!parsed) {
    why = "answered without a usable route (" + parsed.error().message + ")";
    co_return std::make_pair(boost::system::error_code(asio::error::invalid_argument), out);
  }
  co_return std::make_pair(boost::system::error_code(), std::move(*parsed));
}

awaitable<std::optional<LookupResponse>> LookupClient::ask_handler(std::size_t index,
                                                                   RouteQuery q,
                                                                   std::string& why) {
  const LookupHandler& h = m_handlers[index];
  auto ex = co_await asio::this_coro::executor;
  auto& pool = asio::use_service<HandlerConnections>(asio::query(ex, asio::execution::context));
  // A pooled connection first; if the handler closed it meanwhile, one fresh try.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::optional<tcp::socket> socket = attempt == 0 ? pool.take(m_id, index) : std::nullopt;
    const bool reused = socket.has_value();
    if (!reused) {
      socket = co_await connect_to(h, m_connect_timeout, why);
      if (!socket) {
        co_return std::nullopt;
      }
    }
    bool keep_alive = false;
    auto [ec, response] = co_await ask_on(*socket, h, q, keep_alive, why);
    if (!ec) {
      if (keep_alive && socket->is_open()) {
        pool.give_back(m_id, m_alive, index, std::move(*socket));
      }
      co_return response;
    }
    if (!reused || ec == beast::error::timeout) {
      co_return std::nullopt;  // a fresh connection failed: the handler is at fault
    }
  }
  co_return std::nullopt;
}

awaitable<std::variant<LookupResponse, RouteError>> LookupClient::ask(RouteQuery q) {
  const std::size_t n = m_handlers.size();
  if (n == 0) {
    co_return RouteError{Errc::unavailable, "no lookup handlers are configured", 0};
  }
  const std::int64_t now = core::steady_ms();
  const auto order = handler_order(n, m_next.fetch_add(1) % n,
                                   [&](std::size_t i) { return m_failed_until[i].load() > now; });
  // The handlers that failed, "host:port: why; ...": logged (one line) when
  // another answered, else the error the session logs (one line).
  std::string failed;
  for (std::size_t idx : order) {
    ++m_lookups;
    std::string why;
    auto r = co_await ask_handler(idx, q, why);
    if (r) {
      m_failed_until[idx] = 0;
      if (!failed.empty()) {
        ZMPROXY_LOG(warn, "route", "lookup handler {}; skipped for {} ms, {} answered", failed,
                    m_retry_interval.count(), core::format_address(m_handlers[idx].address));
      }
      co_return std::move(*r);
    }
    ++m_failures;
    m_failed_until[idx] = core::steady_ms() + m_retry_interval.count();
    failed += (failed.empty() ? "" : "; ") + core::format_address(m_handlers[idx].address) + ": " +
              (why.empty() ? std::string("failed") : why);
  }
  co_return RouteError{Errc::unavailable,
                       "all lookup handlers are unavailable (" + std::to_string(n) +
                           " tried): " + failed + " (each skipped for " +
                           std::to_string(m_retry_interval.count()) + " ms)",
                       0};
}

}  // namespace zmproxy::route

#include "lib/route/route_resolver.hpp"

#include <charconv>
#include <map>
#include <mutex>
#include <unordered_map>

#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <mutex>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "lib/core/address.hpp"
#include "lib/core/strings.hpp"
#include "lib/log/logger.hpp"
#include "lib/route/cache_key.hpp"
#include "lib/route/known_servers.hpp"
#include "lib/route/local_route_cache.hpp"
#include "lib/route/lookup_protocol.hpp"
#include "lib/route/route_resolver_asio.hpp"
#include "lib/route/route_seal.hpp"

namespace zmproxy::route {

namespace {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using net::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t k_max_idle_per_handler = 8;

struct HandlerAddress {
  std::string host;
  std::string port;
  std::string host_header;
};

Result<HandlerAddress> parse_handler(std::string text) {
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
  HandlerAddress a;
  a.host_header = std::string(t);
  const core::ParsedAddress parsed = core::parse_address(t, {7072});
  if (!parsed) {
    return fail(Errc::invalid_argument, "lookup handler: " + parsed.error);
  }
  a.host = parsed->host;
  a.port = std::to_string(parsed->port);
  return a;
}

// Idle keep-alive connections to lookup handlers, per io_context: an Asio
// service, so the sockets are closed with their context, on its thread.
class HandlerConnections : public asio::execution_context::service {
 public:
  using key_type = HandlerConnections;
  static inline asio::execution_context::id id;  // NOLINT: Asio's service idiom

  explicit HandlerConnections(asio::execution_context& ctx) : service(ctx) {}

  // `owner`: the resolver's unique id (never an address: a resolver replaced
  // by a reload must not hand its connections to the next one).
  std::optional<tcp::socket> take(std::uint64_t owner, std::size_t handler) {
    auto& idle = m_idle[{owner, handler}];
    while (!idle.empty()) {
      tcp::socket s = std::move(idle.back());
      idle.pop_back();
      if (s.is_open()) {
        return s;
      }
    }
    return std::nullopt;
  }

  void give_back(std::uint64_t owner, std::size_t handler, tcp::socket s) {
    auto& idle = m_idle[{owner, handler}];
    if (idle.size() < k_max_idle_per_handler) {
      idle.push_back(std::move(s));
    }
  }

 private:
  void shutdown() override { m_idle.clear(); }
  std::map<std::pair<std::uint64_t, std::size_t>, std::vector<tcp::socket>> m_idle;
};

}  // namespace

namespace {
std::atomic<std::uint64_t> g_next_resolver_id{1};
}  // namespace

struct RouteResolver::Impl {
  const std::uint64_t id = g_next_resolver_id.fetch_add(1);
  ResolverSettings settings;
  std::vector<HandlerAddress> handlers;
  std::unique_ptr<std::atomic<std::int64_t>[]> failed_until;  // steady ms, per handler
  std::unique_ptr<MemcachedCache> cache;
  KnownServers known;
  std::unique_ptr<LocalRouteCache> local;
  asio::thread_pool blocking;
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> local_hits{0};
  std::atomic<std::uint64_t> memcached_rejected{0};
  std::atomic<std::uint64_t> fills_dropped{0};
  std::atomic<std::uint64_t> memcached_hits{0};
  std::atomic<std::uint64_t> handler_lookups{0};
  std::atomic<std::uint64_t> handler_failures{0};
  std::atomic<bool> memcached_error_logged{false};

  explicit Impl(std::size_t threads) : blocking(threads) {}
  ~Impl() { blocking.join(); }

  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
        .count();
  }

  void note_memcached_trouble() {
    const std::string err = cache ? cache->last_error() : std::string();
    if (!err.empty() && !memcached_error_logged.exchange(true)) {
      ZMPROXY_LOG(warn, "route", "memcached: {}; lookups go to the handlers while it lasts", err);
    }
  }

  std::string cache_route_key(const RouteQuery& q, const std::string& name) const {
    return q.by_id ? route_id_key(q.protocol, core::to_lower(q.user),
                                  q.admin ? RouteKind::admin : RouteKind::web)
                   : route_key(q.protocol, name);
  }

  // Blocking (runs on the pool): alias key, then route key.
  struct Probe {
    std::optional<Route> route;
  };
  awaitable<Probe> probe_memcached(RouteQuery q) {
    Probe p;
    const std::string login = core::to_lower(q.user);
    std::string name = login;
    if (!q.by_id) {
      if (auto alias = cache->get(alias_key(login, q.proxy_ip))) {
        name = *alias;
      }
    }
    const std::string key = cache_route_key(q, name);
    auto value = cache->get(key);
    if (value) {
      Route r;
      const OpenedRouteValue opened = open_route_value(key, *value, settings.secret);
      if (parse_route_value(opened.value, r.host, r.port)) {
        if (opened.sealed ? opened.verified : known.contains(r.host, r.port)) {
          r.user = q.by_id ? std::string() : name;
          r.source = Route::Source::memcached;
          p.route = std::move(r);
        } else {
          reject(key, opened.sealed ? "its HMAC does not verify with the route secret"
                                    : "it names no known mailbox server (route.mailbox_servers)");
        }
      } else {
        reject(key, "it is not host:port");
      }
    }
    note_memcached_trouble();
    co_return p;
  }

  // A route memcached should not have: a miss (the handler is asked), one
  // warning naming the key (never the value, which anyone may have written),
  // and the entry deleted so the handler's answer can take its place.
  void reject(const std::string& key, const char* why) {
    ++memcached_rejected;
    ZMPROXY_LOG(warn, "route", "memcached route {} ignored: {}; asking the lookup handler", key, why);
    cache->remove(key);
  }

  // The value to store for a route: plain when it names a known server
  // (Zimbra's format), sealed when it does not and a secret is set, nothing
  // (nullopt) otherwise, since no proxy would believe it.
  std::optional<std::string> stored_value(const std::string& key, const Route& r) const {
    std::string value = format_route_value(r.host, r.port);
    if (known.contains(r.host, r.port)) {
      return value;
    }
    if (settings.secret.empty()) {
      return std::nullopt;
    }
    return seal_route_value(key, value, settings.secret);
  }

  awaitable<void> fill_memcached(RouteQuery q, Route r) {
    const std::string login = core::to_lower(q.user);
    const std::string key = cache_route_key(q, core::to_lower(r.user));
    if (const auto value = stored_value(key, r)) {
      cache->add(key, *value, settings.cache_ttl);
    }
    if (!q.by_id && !r.user.empty() && core::to_lower(r.user) != login) {
      cache->add(alias_key(login, q.proxy_ip), core::to_lower(r.user), settings.cache_ttl);
    }
    note_memcached_trouble();
    {
      std::lock_guard lock(fills_mutex);
      --pending_fills;
    }
    fills_done.notify_all();
    co_return;
  }

  // memcached writes after a lookup run in the background: the login does
  // not wait for them. Tests (and shutdown) wait here for them to land.
  std::mutex fills_mutex;
  std::condition_variable fills_done;
  std::size_t pending_fills = 0;

  // Reserve a place for one background fill; false (and counted) when
  // max_pending_fills are already waiting.
  bool reserve_fill() {
    std::lock_guard lock(fills_mutex);
    if (pending_fills >= settings.max_pending_fills) {
      ++fills_dropped;
      return false;
    }
    ++pending_fills;
    return true;
  }

  awaitable<void> invalidate_async(std::string user, std::string proxy_ip) {
    invalidate_now(user, proxy_ip);
    co_return;
  }

  void invalidate_now(const std::string& user, const std::string& proxy_ip) {
    const std::string login = core::to_lower(user);
    local->invalidate(login);
    if (!cache) {
      return;
    }
    std::string name = login;
    if (auto alias = cache->get(alias_key(login, proxy_ip))) {
      name = *alias;
    }
    for (const char* proto : {"imap", "imapssl", "pop3", "pop3ssl", "http", "httpssl"}) {
      cache->remove(route_key(proto, login));
      if (name != login) {
        cache->remove(route_key(proto, name));
      }
    }
    cache->remove(alias_key(login, proxy_ip));
  }

  // One request on one connection. Transport errors come back as error_code.
  awaitable<std::pair<boost::system::error_code, LookupResponse>> ask_on(
      tcp::socket& socket, const HandlerAddress& h, RouteQuery q, bool& keep_alive) {
    beast::tcp_stream stream(std::move(socket));
    LookupRequest req;
    req.method = q.by_id ? "zimbraId" : "username";
    req.user = q.user;
    req.protocol = q.protocol;
    req.client_ip = q.client_ip;
    req.proxy_ip = q.proxy_ip;
    req.proxy_host = q.proxy_host;
    req.admin = q.admin;
    req.login_attempt = q.login_attempt;
    req.secret = settings.secret;
    std::string wire = std::string("GET ") + std::string(k_lookup_path) + " HTTP/1.1\r\n" +
                       format_lookup_request(req, h.host_header) + "\r\n";
    stream.expires_after(settings.handler_timeout);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(wire), net::use_nothrow);
    LookupResponse out;
    if (wec) {
      socket = stream.release_socket();
      co_return std::make_pair(wec, out);
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(4096);
    parser.header_limit(8192);
    auto [rec, rn] = co_await http::async_read(stream, buffer, parser, net::use_nothrow);
    socket = stream.release_socket();
    if (rec) {
      co_return std::make_pair(rec, out);
    }
    const auto& res = parser.get();
    keep_alive = res.keep_alive();
    if (res.result() != http::status::ok) {
      co_return std::make_pair(boost::system::error_code(asio::error::connection_refused), out);
    }
    Headers headers;
    for (const auto& f : res) {
      headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    auto parsed = parse_lookup_response(headers);
    if (!parsed) {
      co_return std::make_pair(boost::system::error_code(asio::error::invalid_argument), out);
    }
    co_return std::make_pair(boost::system::error_code(), std::move(*parsed));
  }

  awaitable<std::optional<LookupResponse>> ask_handler(std::size_t index, RouteQuery q) {
    const HandlerAddress& h = handlers[index];
    auto ex = co_await asio::this_coro::executor;
    auto& pool = asio::use_service<HandlerConnections>(asio::query(ex, asio::execution::context));
    // A pooled connection first; if the handler closed it meanwhile, one fresh try.
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::optional<tcp::socket> pooled = attempt == 0 ? pool.take(id, index) : std::nullopt;
      const bool reused = pooled.has_value();
      tcp::socket socket = pooled ? std::move(*pooled) : tcp::socket(ex);
      if (!reused) {
        tcp::resolver resolver(ex);
        auto [rec, results] = co_await resolver.async_resolve(h.host, h.port, net::use_nothrow);
        if (rec) {
          co_return std::nullopt;
        }
        beast::tcp_stream stream(std::move(socket));
        stream.expires_after(settings.connect_timeout);
        auto [cec, ep] = co_await stream.async_connect(results, net::use_nothrow);
        socket = stream.release_socket();
        if (cec) {
          co_return std::nullopt;
        }
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
      }
      bool keep_alive = false;
      auto [ec, response] = co_await ask_on(socket, h, q, keep_alive);
      if (!ec) {
        if (keep_alive && socket.is_open()) {
          pool.give_back(id, index, std::move(socket));
        }
        co_return response;
      }
      if (!reused || ec == beast::error::timeout) {
        co_return std::nullopt;  // a fresh connection failed: the handler is at fault
      }
    }
    co_return std::nullopt;
  }

  awaitable<std::variant<LookupResponse, RouteError>> ask_handlers(RouteQuery q) {
    const std::size_t n = handlers.size();
    if (n == 0) {
      co_return RouteError{Errc::unavailable, "no lookup handlers are configured", 0};
    }
    const std::size_t start = next.fetch_add(1) % n;
    // Handlers not marked failed first, in round-robin order; failed ones last.
    std::vector<std::size_t> order;
    std::vector<std::size_t> failed;
    const std::int64_t now = now_ms();
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t idx = (start + i) % n;
      (failed_until[idx].load() > now ? failed : order).push_back(idx);
    }
    order.insert(order.end(), failed.begin(), failed.end());
    for (std::size_t idx : order) {
      ++handler_lookups;
      auto r = co_await ask_handler(idx, q);
      if (r) {
        failed_until[idx] = 0;
        co_return std::move(*r);
      }
      ++handler_failures;
      failed_until[idx] = now_ms() + settings.retry_interval.count();
      ZMPROXY_LOG(warn, "route", "lookup handler {}:{} failed; skipping it for {} ms",
                  handlers[idx].host, handlers[idx].port, settings.retry_interval.count());
    }
    co_return RouteError{Errc::unavailable,
                         "all lookup handlers are unavailable (" + std::to_string(n) + " tried)", 0};
  }
};

RouteResolver::RouteResolver(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
RouteResolver::~RouteResolver() = default;

Result<std::shared_ptr<RouteResolver>> RouteResolver::create(ResolverSettings settings) {
  auto impl = std::make_unique<Impl>(std::max<std::size_t>(1, settings.blocking_threads));
  for (const std::string& h : settings.handlers) {
    auto parsed = parse_handler(h);
    if (!parsed) {
      return tl::unexpected(parsed.error());
    }
    impl->handlers.push_back(std::move(*parsed));
  }
  impl->failed_until = std::make_unique<std::atomic<std::int64_t>[]>(impl->handlers.size());
  for (std::size_t i = 0; i < impl->handlers.size(); ++i) {
    impl->failed_until[i] = 0;
  }
  if (settings.caching && !settings.memcached.servers.empty()) {
    auto cache = MemcachedCache::create(settings.memcached);
    if (!cache) {
      return tl::unexpected(cache.error());
    }
    impl->cache = std::move(*cache);
  }
  auto known = KnownServers::build(settings.mailbox_servers);
  if (!known) {
    return tl::unexpected(known.error());
  }
  impl->known = std::move(*known);
  if (impl->cache && impl->known.empty()) {
    if (settings.secret.empty()) {
      ZMPROXY_LOG(warn, "route",
                  "route.mailbox_servers is empty and route.secret is unset: routes are neither "
                  "read from nor written to memcached (zmproxyctl genconf fills mailbox_servers)");
    } else {
      ZMPROXY_LOG(info, "route",
                  "route.mailbox_servers is empty: only routes sealed with route.secret are read "
                  "from memcached");
    }
  }
  impl->local = std::make_unique<LocalRouteCache>(settings.local_capacity, settings.local_ttl);
  impl->settings = std::move(settings);
  return std::shared_ptr<RouteResolver>(new RouteResolver(std::move(impl)));
}

void RouteResolver::invalidate(const std::string& user, const std::string& proxy_ip) {
  m_impl->invalidate_now(user, proxy_ip);
}

void RouteResolver::wait_background() {
  std::unique_lock lock(m_impl->fills_mutex);
  m_impl->fills_done.wait(lock, [this] { return m_impl->pending_fills == 0; });
}

ResolverStats RouteResolver::stats() const {
  ResolverStats s;
  s.local_hits = m_impl->local_hits;
  s.memcached_hits = m_impl->memcached_hits;
  s.handler_lookups = m_impl->handler_lookups;
  s.handler_failures = m_impl->handler_failures;
  s.memcached_errors = m_impl->cache ? m_impl->cache->stats().errors : 0;
  s.memcached_rejected = m_impl->memcached_rejected;
  s.fills_dropped = m_impl->fills_dropped;
  s.local_evictions = m_impl->local->evictions();
  s.local_entries = m_impl->local->size();
  return s;
}

const ResolverSettings& RouteResolver::settings() const { return m_impl->settings; }

std::string format_route_value(const std::string& host, int port) {
  return core::format_address(host, static_cast<unsigned>(port));
}

bool parse_route_value(std::string_view value, std::string& host, int& port) {
  const core::ParsedAddress a = core::parse_address(value);
  if (!a) {
    return false;
  }
  host = a->host;
  port = a->port;
  return true;
}

awaitable<ResolveResult> resolve(std::shared_ptr<RouteResolver> resolver, RouteQuery q) {
  RouteResolver::Impl& s = resolver->impl();
  q.protocol = core::to_lower(q.protocol);
  const std::string lkey = local_route_key(q);
  if (auto hit = s.local->get(lkey)) {
    ++s.local_hits;
    hit->source = Route::Source::local;
    co_return *hit;
  }
  if (s.cache) {
    auto probe = co_await asio::co_spawn(s.blocking, s.probe_memcached(q), asio::use_awaitable);
    if (probe.route) {
      ++s.memcached_hits;
      s.local->put(lkey, q.user, *probe.route);
      co_return *probe.route;
    }
  }
  auto answer = co_await s.ask_handlers(q);
  if (auto* err = std::get_if<RouteError>(&answer)) {
    co_return *err;
  }
  const LookupResponse& r = std::get<LookupResponse>(answer);
  if (!r.ok) {
    const bool denied = r.status.find("is not allowed") != std::string::npos;
    co_return RouteError{denied ? Errc::permission_denied : Errc::not_found, r.status, r.wait_seconds};
  }
  Route route;
  route.host = r.server;
  route.port = r.port;
  route.user = r.user.empty() ? q.user : r.user;
  route.source = Route::Source::handler;
  s.local->put(lkey, q.user, route);
  if (s.cache && s.reserve_fill()) {
    asio::co_spawn(s.blocking, s.fill_memcached(q, route), asio::detached);
  }
  co_return route;
}

awaitable<void> invalidate(std::shared_ptr<RouteResolver> resolver, std::string user,
                           std::string proxy_ip) {
  RouteResolver::Impl& s = resolver->impl();
  co_await asio::co_spawn(s.blocking, s.invalidate_async(std::move(user), std::move(proxy_ip)),
                          asio::use_awaitable);
}

}  // namespace zmproxy::route

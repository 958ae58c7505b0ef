#include "lib/route/route_resolver.hpp"

#include "lib/core/strings.hpp"
#include "lib/log/logger.hpp"
#include "lib/route/cache_key.hpp"
#include "lib/route/cached_route.hpp"
#include "lib/route/certauth_lookup.hpp"
#include "lib/route/gssapi_lookup.hpp"
#include "lib/route/known_servers.hpp"
#include "lib/route/local_route_cache.hpp"
#include "lib/route/lookup_client.hpp"
#include "lib/route/memcached_reader.hpp"
#include "lib/route/refusal_drops.hpp"
#include "lib/route/route_resolver_asio.hpp"

#include <boost/asio/thread_pool.hpp>
#include <fmt/ranges.h>

#include <condition_variable>
#include <mutex>

namespace zmproxy::route {

namespace {

namespace asio = net::asio;
using asio::awaitable;

}  // namespace

struct RouteResolver::Impl {
  ResolverSettings settings;
  std::unique_ptr<LookupClient> handlers;
  std::unique_ptr<MemcachedCache> cache;
  std::unique_ptr<MemcachedReader> reader;  // when memcached_readable
  KnownServers known;
  std::unique_ptr<LocalRouteCache> local;
  std::unique_ptr<RefusalDrops> refusals;
  std::atomic<std::uint64_t> refusal_drops{0};
  std::atomic<std::uint64_t> refusals_kept{0};
  asio::thread_pool blocking;
  std::atomic<std::uint64_t> local_hits{0};
  std::atomic<std::uint64_t> memcached_rejected{0};
  std::atomic<std::uint64_t> fills_dropped{0};
  std::atomic<std::size_t> pending_reads{0};
  std::atomic<std::uint64_t> reads_dropped{0};
  std::atomic<bool> reads_dropping{false};  // as last logged
  std::atomic<std::uint64_t> memcached_hits{0};
  std::atomic<bool> memcached_error_logged{false};
  std::atomic<std::uint64_t> pool_hops{0};
  // Whether a route read from memcached could be believed at all (known
  // mailbox servers, or a secret to check seals with): without either,
  // every read would be a rejection, so none is made.
  bool memcached_readable = false;

  explicit Impl(std::size_t threads) : blocking(threads) {}
  ~Impl() { blocking.join(); }

  void note_memcached_trouble() { log_trouble_once(cache ? cache->last_error() : std::string()); }
  void log_trouble_once(const std::string& err) {
    if (!err.empty() && !memcached_error_logged.exchange(true)) {
      ZMPROXY_LOG(warn, "route", "memcached: {}; lookups go to the handlers while it lasts", err);
    }
  }

  std::string cache_route_key(const RouteQuery& q, const std::string& name) const {
    return q.by_id ? route_id_key(q.protocol, core::to_lower(q.user),
                                  q.admin ? RouteKind::admin : RouteKind::web)
                   : route_key(q.protocol, name);
  }

  // A route read from memcached and believed, for `name` (the login, or
  // the account its alias named).
  static Route memcached_route(CachedRoute cached, const RouteQuery& q, const std::string& name) {
    Route r;
    r.host = std::move(cached.host);
    r.port = cached.port;
    r.user = q.by_id ? std::string() : name;
    r.source = Route::Source::memcached;
    return r;
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
    if (auto value = cache->get(key)) {
      CachedRoute cached = read_cached_route(key, *value, known, settings.secret);
      if (cached.believed()) {
        p.route = memcached_route(std::move(cached), q, name);
      } else {
        reject(key, cached.rejected);
      }
    }
    note_memcached_trouble();
    co_return p;
  }

  // The probe on the worker itself (MemcachedReader): the alias key and the
  // login's route key in one request (the alias is rarely there), the
  // alias's route key after it when it is. Nothing when the reader hands
  // the query back: libmemcached on the pool asks instead.
  awaitable<std::optional<Probe>> probe_on_worker(const RouteQuery& q) {
    using Outcome = MemcachedReader::Reply::Outcome;
    const std::string login = core::to_lower(q.user);
    std::vector<std::string> keys;
    if (!q.by_id) {
      keys.push_back(alias_key(login, q.proxy_ip));
    }
    keys.push_back(cache_route_key(q, login));
    MemcachedReader::Reply reply = co_await reader->get(std::move(keys));
    Probe p;
    if (reply.outcome == Outcome::fallback) {
      co_return std::nullopt;
    }
    std::optional<std::string> value;
    std::string name = login;
    if (reply.outcome == Outcome::ok) {
      value = std::move(reply.values.back());
      if (!q.by_id && reply.values.front() && *reply.values.front() != login) {
        name = *reply.values.front();
        std::vector<std::string> second;  // not a braced list: GCC 12 miscompiles one in co_await
        second.push_back(cache_route_key(q, name));
        reply = co_await reader->get(std::move(second));
        if (reply.outcome == Outcome::fallback) {
          co_return std::nullopt;
        }
        value = reply.outcome == Outcome::ok ? std::move(reply.values.front()) : std::nullopt;
      }
    }
    if (reply.outcome == Outcome::failed) {
      log_trouble_once(reader->last_error());
      co_return p;
    }
    if (value) {
      const std::string key = cache_route_key(q, name);
      CachedRoute cached = read_cached_route(key, *value, known, settings.secret);
      if (cached.believed()) {
        p.route = memcached_route(std::move(cached), q, name);
      } else {
        ++pool_hops;  // the delete is libmemcached's, on the pool
        asio::co_spawn(blocking, reject_async(key, cached.rejected), asio::detached);
      }
    }
    co_return p;
  }
  awaitable<void> reject_async(std::string key, const char* why) {
    reject(key, why);
    co_return;
  }

  // A route memcached should not have: a miss (the handler is asked), one
  // warning naming the key (never the value, which anyone may have written),
  // and the entry deleted so the handler's answer can take its place.
  void reject(const std::string& key, const char* why) {
    ++memcached_rejected;
    ZMPROXY_LOG(warn, "route", "memcached route {} ignored: {}; asking the lookup handler", key, why);
    cache->remove(key);
  }

  // What a handler's answer writes to memcached: the route (when some
  // proxy could believe it) and the alias of a login that is not the
  // account's name. Decided on the worker, so that nothing to write costs
  // no hop to the pool.
  struct Fill {
    std::string key;
    std::optional<std::string> value;
    std::string alias;  // alias key, empty when none
    std::string account;

    bool empty() const noexcept { return !value && alias.empty(); }
  };
  Fill fill_of(const RouteQuery& q, const Route& r) const {
    Fill f;
    const std::string login = core::to_lower(q.user);
    f.account = core::to_lower(r.user);
    f.key = cache_route_key(q, f.account);
    f.value = stored_route_value(f.key, r.host, r.port, known, settings.secret);
    // An alias is only worth writing where routes are read (the warning at
    // start says this proxy neither reads nor writes them).
    if (memcached_readable && !q.by_id && !r.user.empty() && f.account != login) {
      f.alias = alias_key(login, q.proxy_ip);
    }
    return f;
  }

  awaitable<void> fill_memcached(Fill f) {
    if (f.value) {
      cache->add(f.key, *f.value, settings.cache_ttl);
    }
    if (!f.alias.empty()) {
      cache->add(f.alias, f.account, settings.cache_ttl);
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

  // A place on the pool for one read or delete a login waits for; false
  // (counted, logged once while it lasts) when max_pending_reads wait.
  bool reserve_read() {
    if (pending_reads.fetch_add(1, std::memory_order_relaxed) >= settings.max_pending_reads) {
      pending_reads.fetch_sub(1, std::memory_order_relaxed);
      reads_dropped.fetch_add(1, std::memory_order_relaxed);
      if (!reads_dropping.exchange(true)) {
        ZMPROXY_LOG(warn, "route",
                    "{} memcached calls wait for an answer: further logins ask the lookup handlers "
                    "until they drain (memcached {} is slow or hung?)",
                    settings.max_pending_reads, fmt::join(settings.memcached.servers, ", "));
      }
      return false;
    }
    return true;
  }
  void release_read() {
    if (pending_reads.fetch_sub(1, std::memory_order_relaxed) <= 1 &&
        reads_dropping.exchange(false)) {
      ZMPROXY_LOG(info, "route", "memcached calls drained; logins read memcached again");
    }
  }
  // Gives the place back when the awaiting frame goes, an exception included.
  struct ReadPlace {
    Impl& impl;
    ~ReadPlace() { impl.release_read(); }
  };

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
    const bool id = looks_like_zimbra_id(login);
    for (const char* proto : {"imap", "imapssl", "pop3", "pop3ssl", "http", "httpssl"}) {
      cache->remove(route_key(proto, login));
      if (name != login) {
        cache->remove(route_key(proto, name));
      }
      if (id) {  // a web route found by the auth token's account id
        for (const RouteKind kind : {RouteKind::web, RouteKind::admin, RouteKind::zx}) {
          cache->remove(route_id_key(proto, login, kind));
        }
      }
    }
    cache->remove(alias_key(login, proxy_ip));
  }

  // A zimbraId's form (8-4-4-4-12 hex digits).
  static bool looks_like_zimbra_id(std::string_view s) noexcept {
    if (s.size() != 36) {
      return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
      const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash ? s[i] != '-' : core::hex_digit_value(s[i]) < 0) {
        return false;
      }
    }
    return true;
  }
};

RouteResolver::RouteResolver(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
RouteResolver::~RouteResolver() = default;

Result<std::shared_ptr<RouteResolver>> RouteResolver::create(ResolverSettings settings) {
  auto impl = std::make_unique<Impl>(std::max<std::size_t>(1, settings.blocking_threads));
  auto handlers = LookupClient::create(settings);
  if (!handlers) {
    return tl::unexpected(handlers.error());
  }
  impl->handlers = std::move(*handlers);
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
  impl->memcached_readable = impl->cache && (!impl->known.empty() || !settings.secret.empty());
  if (impl->memcached_readable && !impl->cache->servers().empty()) {
    impl->reader = std::make_unique<MemcachedReader>(impl->cache->servers(), settings.memcached.timeout,
                                                     settings.memcached.retry_after);
  }
  impl->local = std::make_unique<LocalRouteCache>(settings.local_capacity, settings.local_ttl);
  impl->refusals = std::make_unique<RefusalDrops>(settings.refusal_interval, settings.refusal_capacity);
  impl->settings = std::move(settings);
  return std::shared_ptr<RouteResolver>(new RouteResolver(std::move(impl)));
}

void RouteResolver::invalidate(const std::string& user, const std::string& proxy_ip) {
  m_impl->invalidate_now(user, proxy_ip);
}

std::size_t RouteResolver::forget(const std::vector<std::string>& users) {
  const auto now = LocalRouteCache::Clock::now();
  std::size_t dropped = 0;
  for (const std::string& user : users) {
    dropped += m_impl->local->forget(user, now + m_impl->settings.local_ttl, now);
  }
  return dropped;
}

std::size_t RouteResolver::forget_all() {
  return m_impl->local->forget_all(LocalRouteCache::Clock::now() + m_impl->settings.local_ttl);
}

void RouteResolver::wait_background() {
  std::unique_lock lock(m_impl->fills_mutex);
  m_impl->fills_done.wait(lock, [this] { return m_impl->pending_fills == 0; });
}

ResolverStats RouteResolver::stats() const {
  ResolverStats s;
  s.local_hits = m_impl->local_hits;
  s.memcached_hits = m_impl->memcached_hits;
  s.handler_lookups = m_impl->handlers->lookups();
  s.handler_failures = m_impl->handlers->failures();
  s.memcached_errors = m_impl->cache ? m_impl->cache->stats().errors : 0;
  if (m_impl->reader) {
    const ReaderStats r = m_impl->reader->stats();
    s.memcached_errors += r.errors;
    s.memcached_worker_reads = r.gets;
    s.memcached_fallbacks = r.fallbacks;
  }
  s.memcached_rejected = m_impl->memcached_rejected;
  s.fills_dropped = m_impl->fills_dropped;
  {
    std::lock_guard lock(m_impl->fills_mutex);
    s.fills_waiting = m_impl->pending_fills;
  }
  s.reads_dropped = m_impl->reads_dropped;
  s.reads_waiting = m_impl->pending_reads.load(std::memory_order_relaxed);
  s.local_evictions = m_impl->local->evictions();
  s.local_entries = m_impl->local->size();
  s.pool_hops = m_impl->pool_hops;
  s.refusal_drops = m_impl->refusal_drops;
  s.refusals_kept = m_impl->refusals_kept;
  return s;
}

const ResolverSettings& RouteResolver::settings() const { return m_impl->settings; }

namespace {

// The answer of a handler as a route or the refusal's error.
ResolveResult route_of(const RouteQuery& q, const LookupResponse& r) {
  if (!r.ok) {
    const bool denied = r.status.find("is not allowed") != std::string::npos;
    return RouteError{denied ? Errc::permission_denied : Errc::not_found, r.status, r.wait_seconds};
  }
  Route route;
  route.host = r.server;
  route.port = r.port;
  route.user = r.user.empty() ? q.user : r.user;
  route.source = Route::Source::handler;
  return route;
}

// A gssapi or certauth login: the handler is always asked and nothing is
// cached, neither in process nor in memcached (the answer carries a token;
// Zimbra never caches them). The request is checked as zmlookupd checks it
// before it is sent.
awaitable<ResolveResult> resolve_vouched(RouteResolver::Impl& s, RouteQuery q) {
  const LookupRequest request = lookup_request(q, s.settings.secret, s.settings.gssapi_admin_user,
                                               s.settings.gssapi_admin_password);
  const std::string_view method = q.is_certauth() ? "certauth" : "gssapi";
  if (auto checked = q.is_certauth() ? check_certauth_request(request) : check_gssapi_request(request);
      !checked) {
    // The lookup admin's name or password is our setting, not the user's
    // fault (unavailable); the principal, subject and authorization identity
    // are the client's (invalid_argument).
    const bool ours = checked.error().message.find("Auth-Admin-") != std::string::npos;
    co_return RouteError{ours ? Errc::unavailable : Errc::invalid_argument,
                         std::string(method) + " lookup not sent: " + checked.error().message, 0};
  }
  auto answer = co_await s.handlers->ask(q);
  if (auto* err = std::get_if<RouteError>(&answer)) {
    co_return *err;
  }
  LookupResponse& r = std::get<LookupResponse>(answer);
  ResolveResult out = route_of(q, r);
  if (auto* route = std::get_if<Route>(&out)) {
    if (r.user.empty() || r.token.empty()) {
      co_return RouteError{Errc::unavailable,
                           std::string(method) + " lookup answered without Auth-User or Auth-Pass", 0};
    }
    route->token = std::move(r.token);
  }
  co_return out;
}

}  // namespace

awaitable<ResolveResult> resolve(std::shared_ptr<RouteResolver> resolver, RouteQuery q) {
  RouteResolver::Impl& s = resolver->impl();
  q.protocol = core::to_lower(q.protocol);
  if (q.is_gssapi() || q.is_certauth()) {
    co_return co_await resolve_vouched(s, std::move(q));
  }
  const std::string lkey = local_route_key(q);
  if (auto hit = s.local->get(lkey)) {
    ++s.local_hits;
    hit->source = Route::Source::local;
    co_return *hit;
  }
  if (s.memcached_readable) {
    std::optional<RouteResolver::Impl::Probe> probe;
    if (s.reader) {
      probe = co_await s.probe_on_worker(q);
    }
    if (!probe && s.reserve_read()) {
      const RouteResolver::Impl::ReadPlace held{s};
      ++s.pool_hops;
      probe = co_await asio::co_spawn(s.blocking, s.probe_memcached(q), asio::use_awaitable);
    }
    if (!probe) {
      probe.emplace();  // the pool is full: the handlers answer
    }
    if (probe->route) {
      ++s.memcached_hits;
      s.local->put(lkey, q.user, *probe->route);
      co_return *probe->route;
    }
  }
  auto answer = co_await s.handlers->ask(q);
  if (auto* err = std::get_if<RouteError>(&answer)) {
    co_return *err;
  }
  ResolveResult out = route_of(q, std::get<LookupResponse>(answer));
  if (std::holds_alternative<RouteError>(out)) {
    co_return out;
  }
  Route& route = std::get<Route>(out);
  s.local->put(lkey, q.user, route);
  if (s.cache) {
    if (auto fill = s.fill_of(q, route); !fill.empty() && s.reserve_fill()) {
      ++s.pool_hops;
      asio::co_spawn(s.blocking, s.fill_memcached(std::move(fill)), asio::detached);
    }
  }
  co_return out;
}

awaitable<void> invalidate(std::shared_ptr<RouteResolver> resolver, std::string user,
                           std::string proxy_ip) {
  RouteResolver::Impl& s = resolver->impl();
  if (!s.reserve_read()) {
    s.local->invalidate(core::to_lower(user));  // memcached keeps its entry: it expires
    co_return;
  }
  const RouteResolver::Impl::ReadPlace held{s};
  ++s.pool_hops;
  co_await asio::co_spawn(s.blocking, s.invalidate_async(std::move(user), std::move(proxy_ip)),
                          asio::use_awaitable);
}

awaitable<bool> forget_refused(std::shared_ptr<RouteResolver> resolver, std::string user,
                               std::string proxy_ip, bool fresh) {
  RouteResolver::Impl& s = resolver->impl();
  if (fresh || !s.refusals->allow(user)) {
    ++s.refusals_kept;
    co_return false;
  }
  ++s.refusal_drops;
  co_await invalidate(std::move(resolver), std::move(user), std::move(proxy_ip));
  co_return true;
}

}  // namespace zmproxy::route

#include "lib/proxy/throttle_gate.hpp"

#include "lib/config/throttle_settings.hpp"
#include "lib/core/strings.hpp"
#include "lib/log/logger.hpp"
#include "lib/route/memcached_cache.hpp"
#include "lib/throttle/address_text.hpp"
#include "lib/throttle/memcached_counter_store.hpp"
#include "lib/throttle/pair_hints.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace zmproxy::proxy {

namespace {

namespace asio = net::asio;
using asio::awaitable;
using throttle::Decision;
using throttle::MailProtocol;

constexpr std::size_t k_threads = 2;

bool anything_to_count(const throttle::ThrottleSettings& s) {
  return s.ip.limit > 0 || s.imap.limit > 0 || s.pop3.limit > 0 || s.user_limit > 0 ||
         s.count_failed_logins;
}

// Keys hold addresses as Zimbra's nginx writes them (address_text.hpp).
std::string key_address(std::string_view client_ip) {
  std::optional<std::string> text = throttle::nginx_address_text(client_ip);
  return text ? std::move(*text) : std::string(client_ip);
}

}  // namespace

// One check on its way to the pool: what it is and what it is about.
struct Check {
  enum class Op { connection, before, success, failure } op = Op::connection;
  LoginKind kind = LoginKind::mail;
  MailProtocol protocol = MailProtocol::imap;
  std::string user;       // as typed; lower-cased for the key
  std::string client_ip;  // as the session has it
  Decision before;        // success, failure: what before_login said
  bool suspect = false;   // before: this proxy saw the pair fail
};

struct ThrottleGate::Impl {
  std::unique_ptr<route::MemcachedCache> cache;
  std::unique_ptr<throttle::MemcachedCounterStore> store;
  std::unique_ptr<throttle::LoginThrottle> decide;
  std::unique_ptr<throttle::LoginThrottle> decide_web;  // the same without the user limit
  throttle::PairHints hints;
  asio::thread_pool pool{k_threads};
  std::atomic<std::uint64_t> pending{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<bool> dropping{false};   // as last logged
  std::atomic<bool> store_off{false};  // as last logged

  ~Impl() { pool.join(); }

  // Runs on the pool: the blocking decision, and the log line when the
  // store's state changed.
  awaitable<Decision> run(Check c) {
    throttle::LoginThrottle& t = c.kind == LoginKind::web ? *decide_web : *decide;
    const std::string user = core::to_lower(c.user);
    const std::string address = key_address(c.client_ip);
    Decision d;
    switch (c.op) {
      case Check::Op::connection:
        d = t.on_connection(c.protocol, address);
        break;
      case Check::Op::before:
        d = t.before_login(user, address, c.suspect);
        break;
      case Check::Op::success:
        d = t.after_login_success(user, address, c.before);
        break;
      case Check::Op::failure:
        d = t.after_login_failure(user, address, c.before);
        break;
    }
    // Two deciders (mail, web) see the store: one line per change between them.
    if (d.notice == throttle::StoreNotice::throttling_off && !store_off.exchange(true)) {
      ZMPROXY_LOG(
          warn, "throttle",
          "memcached: {}; login throttling is off, every login is let through until it answers",
          cache->last_error());
    } else if (d.notice == throttle::StoreNotice::throttling_on && store_off.exchange(false)) {
      ZMPROXY_LOG(info, "throttle", "memcached answers again; login throttling is on");
    }
    co_return d;
  }

  // The check on the pool, or an allow when too many wait already.
  awaitable<Decision> offload(Check c) {
    if (pending.fetch_add(1, std::memory_order_relaxed) >= k_max_pending) {
      pending.fetch_sub(1, std::memory_order_relaxed);
      dropped.fetch_add(1, std::memory_order_relaxed);
      if (!dropping.exchange(true)) {
        ZMPROXY_LOG(
            warn, "throttle",
            "{} checks wait for memcached: further ones are let through unchecked until they drain",
            k_max_pending);
      }
      co_return Decision{};
    }
    // Gone with this frame, an exception included.
    struct Pending {
      std::atomic<std::uint64_t>& count;
      ~Pending() { count.fetch_sub(1, std::memory_order_relaxed); }
    } const held{pending};
    // Named before co_await (GCC 12 and temporaries: mail/session_driver.hpp).
    awaitable<Decision> op = run(std::move(c));
    Decision d = co_await asio::co_spawn(pool, std::move(op), asio::use_awaitable);
    if (dropping.load(std::memory_order_relaxed) && pending.load(std::memory_order_relaxed) <= 1) {
      dropping.store(false);
    }
    co_return d;
  }
};

Result<std::shared_ptr<ThrottleGate>> ThrottleGate::create(const config::ProxyConfig& config) {
  auto settings = config::throttle_settings(config.throttle);
  if (!settings) {
    return tl::unexpected(settings.error());
  }
  if (config.route.memcached.empty() || !anything_to_count(*settings)) {
    return std::shared_ptr<ThrottleGate>();
  }
  route::MemcachedSettings m;
  m.servers = config.route.memcached;
  m.timeout = config.route.memcached_timeout;
  // A restarted memcached is tried again within seconds: throttling is off
  // while it is skipped (the route cache can wait its minute).
  m.retry_after = std::chrono::seconds(5);
  auto cache = route::MemcachedCache::create(m);
  if (!cache) {
    return fail(Errc::invalid_argument, "route.memcached: " + cache.error().message);
  }
  auto impl = std::make_unique<Impl>();
  impl->cache = std::move(*cache);
  impl->store = std::make_unique<throttle::MemcachedCounterStore>(*impl->cache);
  throttle::ThrottleSettings web = *settings;
  web.user_limit = 0;
  impl->decide = std::make_unique<throttle::LoginThrottle>(std::move(*settings), *impl->store);
  impl->decide_web = std::make_unique<throttle::LoginThrottle>(std::move(web), *impl->store);
  return std::shared_ptr<ThrottleGate>(new ThrottleGate(std::move(impl)));
}

bool ThrottleGate::same_settings(const config::ProxyConfig& previous,
                                 const config::ProxyConfig& next) {
  return previous.throttle == next.throttle && previous.route.memcached == next.route.memcached &&
         previous.route.memcached_timeout == next.route.memcached_timeout;
}

ThrottleGate::ThrottleGate(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
ThrottleGate::~ThrottleGate() = default;

const throttle::ThrottleSettings& ThrottleGate::settings() const noexcept {
  return m_impl->decide->settings();
}

std::uint64_t ThrottleGate::dropped() const noexcept {
  return m_impl->dropped.load(std::memory_order_relaxed);
}

std::uint64_t ThrottleGate::waiting() const noexcept {
  return m_impl->pending.load(std::memory_order_relaxed);
}

awaitable<Decision> ThrottleGate::on_connection(MailProtocol protocol, std::string client_ip) {
  const throttle::ThrottleSettings& s = settings();
  if (throttle::ip_limit_for(s, protocol).limit == 0 || s.whitelist.contains(client_ip)) {
    co_return Decision{};
  }
  Check c;
  c.op = Check::Op::connection;
  c.protocol = protocol;
  c.client_ip = std::move(client_ip);
  co_return co_await m_impl->offload(std::move(c));
}

awaitable<Decision> ThrottleGate::before_login(LoginKind kind,
                                               std::string user,
                                               std::string client_ip) {
  const throttle::ThrottleSettings& s = settings();
  const bool user_limit = kind == LoginKind::mail && s.user_limit > 0;
  const bool suspect = s.count_failed_logins &&
                       m_impl->hints.suspect(user, client_ip, throttle::PairHints::Clock::now());
  if (!user_limit && !(s.count_failed_logins && (s.failed_lock_after > 0 || suspect))) {
    co_return Decision{};
  }
  Check c;
  c.op = Check::Op::before;
  c.kind = kind;
  c.user = user;
  c.client_ip = client_ip;
  c.suspect = suspect;
  const Decision d = co_await m_impl->offload(std::move(c));
  if (d.failed_logins > 0 && !suspect) {  // failures seen by other proxies of the fleet
    m_impl->hints.note_failure(user, client_ip,
                               throttle::PairHints::Clock::now() + s.failed_window);
  }
  co_return d;
}

awaitable<Decision> ThrottleGate::after_login_success(LoginKind kind,
                                                      std::string user,
                                                      std::string client_ip,
                                                      Decision before) {
  const throttle::ThrottleSettings& s = settings();
  const bool user_limit = kind == LoginKind::mail && s.user_limit > 0;
  const bool forgive = s.count_failed_logins && (before.failed_logins > 0 || before.reserved);
  if (!user_limit && !forgive) {
    co_return Decision{};
  }
  if (forgive) {
    m_impl->hints.forget(user, client_ip);
  }
  Check c;
  c.op = Check::Op::success;
  c.kind = kind;
  c.user = std::move(user);
  c.client_ip = std::move(client_ip);
  c.before = before;
  co_return co_await m_impl->offload(std::move(c));
}

awaitable<Decision> ThrottleGate::after_login_failure(std::string user,
                                                      std::string client_ip,
                                                      Decision before) {
  const throttle::ThrottleSettings& s = settings();
  if (!s.count_failed_logins) {
    co_return Decision{};
  }
  m_impl->hints.note_failure(user, client_ip, throttle::PairHints::Clock::now() + s.failed_window);
  Check c;
  c.op = Check::Op::failure;
  c.user = std::move(user);
  c.client_ip = std::move(client_ip);
  c.before = before;
  co_return co_await m_impl->offload(std::move(c));
}

}  // namespace zmproxy::proxy

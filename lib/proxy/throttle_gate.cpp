#include "lib/proxy/throttle_gate.hpp"

#include "lib/config/throttle_settings.hpp"
#include "lib/core/strings.hpp"
#include "lib/log/logger.hpp"
#include "lib/route/memcached_cache.hpp"
#include "lib/throttle/address_text.hpp"
#include "lib/throttle/memcached_counter_store.hpp"

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
  return s.ip.limit > 0 || s.imap.limit > 0 || s.pop3.limit > 0 || s.user_limit > 0 || s.count_failed_logins;
}

// Keys hold addresses as Zimbra's nginx writes them (address_text.hpp).
std::string key_address(std::string_view client_ip) {
  std::optional<std::string> text = throttle::nginx_address_text(client_ip);
  return text ? std::move(*text) : std::string(client_ip);
}

}  // namespace

struct ThrottleGate::Impl {
  enum class Call { connection, before, success, failure };

  std::unique_ptr<route::MemcachedCache> cache;
  std::unique_ptr<throttle::MemcachedCounterStore> store;
  std::unique_ptr<throttle::LoginThrottle> decide;
  std::unique_ptr<throttle::LoginThrottle> decide_web;  // the same without the user limit
  asio::thread_pool pool{k_threads};
  std::atomic<std::uint64_t> pending{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<bool> store_off{false};  // as last logged

  ~Impl() { pool.join(); }

  // Runs on the pool: the blocking decision, and the log line when the
  // store's state changed.
  awaitable<Decision> run(Call call, LoginKind kind, MailProtocol protocol, std::string user, std::string address,
                          Decision before) {
    throttle::LoginThrottle& t = kind == LoginKind::web ? *decide_web : *decide;
    Decision d;
    switch (call) {
      case Call::connection:
        d = t.on_connection(protocol, address);
        break;
      case Call::before:
        d = t.before_login(user, address);
        break;
      case Call::success:
        d = t.after_login_success(user, address, before);
        break;
      case Call::failure:
        d = t.after_login_failure(user, address);
        break;
    }
    // Two deciders (mail, web) see the store: one line per change between them.
    if (d.notice == throttle::StoreNotice::throttling_off && !store_off.exchange(true)) {
      ZMPROXY_LOG(warn, "throttle", "memcached: {}; login throttling is off, every login is let through until it answers",
                  cache->last_error());
    } else if (d.notice == throttle::StoreNotice::throttling_on && store_off.exchange(false)) {
      ZMPROXY_LOG(info, "throttle", "memcached answers again; login throttling is on");
    }
    co_return d;
  }

  // The call on the pool, or an allow when too many wait already.
  awaitable<Decision> offload(Call call, LoginKind kind, MailProtocol protocol, std::string user,
                              std::string client_ip, Decision before) {
    if (pending.fetch_add(1, std::memory_order_relaxed) >= k_max_pending) {
      pending.fetch_sub(1, std::memory_order_relaxed);
      dropped.fetch_add(1, std::memory_order_relaxed);
      co_return Decision{};
    }
    // Named before co_await (GCC 12 and temporaries: mail/session_driver.hpp).
    std::string key_user = core::to_lower(user);
    std::string address = key_address(client_ip);
    awaitable<Decision> op = run(call, kind, protocol, std::move(key_user), std::move(address), before);
    Decision d = co_await asio::co_spawn(pool, std::move(op), asio::use_awaitable);
    pending.fetch_sub(1, std::memory_order_relaxed);
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

bool ThrottleGate::same_settings(const config::ProxyConfig& previous, const config::ProxyConfig& next) {
  return previous.throttle == next.throttle && previous.route.memcached == next.route.memcached &&
         previous.route.memcached_timeout == next.route.memcached_timeout;
}

ThrottleGate::ThrottleGate(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
ThrottleGate::~ThrottleGate() = default;

const throttle::ThrottleSettings& ThrottleGate::settings() const noexcept { return m_impl->decide->settings(); }

std::uint64_t ThrottleGate::dropped() const noexcept { return m_impl->dropped.load(std::memory_order_relaxed); }

awaitable<Decision> ThrottleGate::on_connection(MailProtocol protocol, std::string client_ip) {
  const throttle::ThrottleSettings& s = settings();
  if (throttle::ip_limit_for(s, protocol).limit == 0 || s.whitelist.contains(client_ip)) {
    co_return Decision{};
  }
  co_return co_await m_impl->offload(Impl::Call::connection, LoginKind::mail, protocol, {}, std::move(client_ip),
                                     {});
}

awaitable<Decision> ThrottleGate::before_login(LoginKind kind, std::string user, std::string client_ip) {
  const throttle::ThrottleSettings& s = settings();
  const bool user_limit = kind == LoginKind::mail && s.user_limit > 0;
  if (!user_limit && !(s.count_failed_logins && s.failed_lock_after > 0)) {
    co_return Decision{};
  }
  co_return co_await m_impl->offload(Impl::Call::before, kind, MailProtocol::imap, std::move(user),
                                     std::move(client_ip), {});
}

awaitable<Decision> ThrottleGate::after_login_success(LoginKind kind, std::string user, std::string client_ip,
                                                      Decision before) {
  const throttle::ThrottleSettings& s = settings();
  const bool user_limit = kind == LoginKind::mail && s.user_limit > 0;
  if (!user_limit && !(s.count_failed_logins && before.failed_logins > 0)) {
    co_return Decision{};
  }
  co_return co_await m_impl->offload(Impl::Call::success, kind, MailProtocol::imap, std::move(user),
                                     std::move(client_ip), before);
}

awaitable<Decision> ThrottleGate::after_login_failure(std::string user, std::string client_ip) {
  if (!settings().count_failed_logins) {
    co_return Decision{};
  }
  co_return co_await m_impl->offload(Impl::Call::failure, LoginKind::mail, MailProtocol::imap, std::move(user),
                                     std::move(client_ip), {});
}

}  // namespace zmproxy::proxy

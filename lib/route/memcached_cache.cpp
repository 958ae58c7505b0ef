#include "lib/route/memcached_cache.hpp"

#include "lib/core/address.hpp"
#include "lib/core/duration.hpp"
#include "lib/route/cache_key.hpp"

#include <libmemcached-1.0/memcached.h>
#include <libmemcachedutil-1.0/pool.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <set>
#include <utility>

namespace zmproxy::route {

namespace {

constexpr std::uint16_t k_default_port = MEMCACHED_DEFAULT_PORT;
constexpr std::chrono::milliseconds k_max_timeout{60'000};
constexpr std::size_t k_max_pool_size = 1024;
// memcached reads an expiration above 30 days as an absolute Unix time.
constexpr std::chrono::seconds k_max_relative_ttl{60L * 60 * 24 * 30};

// A config value shown in an error message: one line, control bytes as \xNN.
std::string printable(std::string_view s) {
  constexpr std::string_view k_hex = "0123456789abcdef";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 0x0f]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

tl::unexpected<Error> bad_server(std::string_view entry, std::string_view why) {
  return fail(Errc::invalid_argument,
              "invalid memcached server \"" + printable(entry) + "\": " + std::string(why));
}

// The result codes after which the connection is known to be in step with
// the server. After anything else (timeout, I/O error, protocol error...)
// the handle is closed before it goes back to the pool.
bool is_clean(memcached_return_t rc) {
  switch (rc) {
    case MEMCACHED_SUCCESS:
    case MEMCACHED_NOTFOUND:
    case MEMCACHED_NOTSTORED:
    case MEMCACHED_DATA_EXISTS:
    case MEMCACHED_STORED:
    case MEMCACHED_DELETED:
    case MEMCACHED_END:
      return true;
    default:
      return false;
  }
}

Result<void> set_behavior(memcached_st* mc,
                          memcached_behavior_t flag,
                          std::uint64_t value,
                          const char* name) {
  const memcached_return_t rc = memcached_behavior_set(mc, flag, value);
  if (memcached_failed(rc)) {
    return fail(Errc::internal,
                std::string("libmemcached refused ") + name + ": " + memcached_strerror(mc, rc));
  }
  return {};
}

// Applies the behaviours every handle we make shares (see the class comment).
Result<void> configure(memcached_st* mc, const MemcachedSettings& s) {
  const auto ms = static_cast<std::uint64_t>(s.timeout.count());
  const auto retry = static_cast<std::uint64_t>(s.retry_after.count());
  // The ASCII protocol, as Zimbra; the binary one is deprecated server-side.
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 0, "BINARY_PROTOCOL"));
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_NO_BLOCK, 1, "NO_BLOCK"));
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1, "TCP_NODELAY"));
  // The defaults (4 s connect, 5 s poll) would stall a login for seconds.
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms, "CONNECT_TIMEOUT"));
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms, "POLL_TIMEOUT"));
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_SND_TIMEOUT, ms * 1000, "SND_TIMEOUT"));
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, ms * 1000, "RCV_TIMEOUT"));
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                           MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA, "DISTRIBUTION"));
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 0, "KETAMA_WEIGHTED"));
  // One failed connect marks a server dead; the continuum is rebuilt without
  // it, so its keys re-hash to the live servers.
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1, "SERVER_FAILURE_LIMIT"));
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, retry, "RETRY_TIMEOUT"));
  ZMPROXY_TRY(
      set_behavior(mc, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 1, "REMOVE_FAILED_SERVERS"));
  // AUTO_EJECT_HOSTS is the deprecated name of the same flag; set for older readers.
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_AUTO_EJECT_HOSTS, 1, "AUTO_EJECT_HOSTS"));
  // Trap: with DEAD_TIMEOUT 0 (the default) an ejected server never comes
  // back. Its failure counter stays at the limit, so when RETRY_TIMEOUT
  // re-admits it to the continuum the next call ejects it again without even
  // connecting (connect.cc backoff_handling), forever: every key hashing to
  // it fails. A DEAD_TIMEOUT resets the counter and schedules one real retry.
  ZMPROXY_TRY(set_behavior(mc, MEMCACHED_BEHAVIOR_DEAD_TIMEOUT, retry, "DEAD_TIMEOUT"));
  return {};
}

Result<std::unique_ptr<memcached_st, void (*)(memcached_st*)>> make_handle(
    const MemcachedSettings& settings, const std::vector<MemcachedServer>& servers) {
  std::unique_ptr<memcached_st, void (*)(memcached_st*)> mc(memcached_create(nullptr),
                                                            &memcached_free);
  if (!mc) {
    return fail(Errc::internal, "memcached_create failed (out of memory)");
  }
  ZMPROXY_TRY(configure(mc.get(), settings));
  for (const MemcachedServer& server : servers) {
    const memcached_return_t rc = memcached_server_add(mc.get(), server.host.c_str(), server.port);
    if (memcached_failed(rc)) {
      return fail(Errc::invalid_argument, "memcached server " +
                                              core::format_address(server.host, server.port) +
                                              ": " + memcached_last_error_message(mc.get()));
    }
  }
  return mc;
}

}  // namespace

Result<MemcachedServer> parse_memcached_server(std::string_view entry) {
  if (entry.empty()) {
    return bad_server(entry, "empty entry (expected host:port)");
  }
  if (entry.front() != '[' && std::count(entry.begin(), entry.end(), ':') > 1) {
    return bad_server(entry, "write an IPv6 address in brackets, as [addr]:port");
  }
  const core::ParsedAddress a = core::parse_address(entry, {k_default_port});
  if (!a) {
    return bad_server(entry, a.reason + "; expected host, host:port, [IPv6] or [IPv6]:port " +
                                 "with a port of 1 to 65535");
  }
  return MemcachedServer{a->host, a->port};
}

// A pooled handle, held for one call. Going out of scope returns it to the
// pool, closed first if the call left it out of step with the server.
class MemcachedCache::Lease {
 public:
  explicit Lease(MemcachedCache& cache) : m_cache(cache) {
    if (!m_cache.acquire_slot()) {
      m_cache.note_error("memcached: no pooled connection free within " +
                         std::to_string(m_cache.m_settings.timeout.count()) + " ms");
      return;
    }
    // Our slot count guarantees a free (or creatable) handle, so this never
    // waits; the bound is a safety net. The pool's wait is coarse: its
    // deadline is time(NULL) + tv_sec with tv_nsec taken as is, so a
    // sub-second wait may expire at once, and {0, 0} means "do not wait".
    timespec wait{1, 0};
    memcached_return_t rc = MEMCACHED_SUCCESS;
    m_mc = memcached_pool_fetch(m_cache.m_pool.get(), &wait, &rc);
    if (m_mc == nullptr) {
      m_cache.release_slot();
      m_cache.note_error(std::string("memcached: pool fetch failed: ") +
                         memcached_strerror(nullptr, rc));
    }
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Lease(Lease&&) = delete;
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (m_mc == nullptr) {
      return;
    }
    if (m_poisoned) {
      // A connection that timed out may still get the late reply, which the
      // next request would read as its own answer (libmemcached < 1.1.4,
      // GHSA-wwmh-39wj-fx59). 1.1.4 copes with a timed-out get by itself
      // (checked), but we rely neither on that nor on every other path:
      // close every connection of this handle; the next call reconnects.
      memcached_quit(m_mc);
    }
    memcached_pool_release(m_cache.m_pool.get(), m_mc);
    m_cache.release_slot();
  }

  explicit operator bool() const noexcept { return m_mc != nullptr; }
  memcached_st* get() const noexcept { return m_mc; }
  // The call is about `key`: false (an error noted) while its server is hung
  // (MemcachedHung); else result() marks that server when the call times out.
  bool for_key(std::string_view key) {
    m_server = memcached_generate_hash(m_mc, key.data(), key.size());
    if (!m_cache.m_hung.skip(*m_server, core::steady_ms())) {
      return true;
    }
    m_cache.note_error("memcached: a call for " + std::string(key) +
                       " not sent: its server timed out, skipped for " +
                       std::to_string(m_cache.m_settings.retry_after.count()) + " s");
    return false;
  }
  // Records the outcome of a call; anything unclean closes the handle on release.
  void result(memcached_return_t rc) noexcept {
    if (!is_clean(rc)) {
      m_poisoned = true;
    }
    if (m_server && (rc == MEMCACHED_TIMEOUT || rc == MEMCACHED_ERRNO)) {
      m_cache.m_hung.timed_out(*m_server, core::steady_ms());
    }
  }

 private:
  MemcachedCache& m_cache;
  memcached_st* m_mc = nullptr;
  bool m_poisoned = false;
  std::optional<std::size_t> m_server;  // the server of the call's key (for_key)
};

void MemcachedCache::MemcachedFree::operator()(memcached_st* mc) const noexcept {
  memcached_free(mc);
}

void MemcachedCache::PoolDestroy::operator()(memcached_pool_st* pool) const noexcept {
  // Frees the pooled clones; the master is not owned by the pool.
  memcached_pool_destroy(pool);
}

Result<std::unique_ptr<MemcachedCache>> MemcachedCache::create(MemcachedSettings settings) {
  if (settings.timeout <= std::chrono::milliseconds::zero() || settings.timeout > k_max_timeout) {
    return fail(Errc::invalid_argument, "memcached timeout must be from 1 ms to 60 s, not " +
                                            std::to_string(settings.timeout.count()) + " ms");
  }
  if (settings.retry_after < std::chrono::seconds(1)) {
    return fail(Errc::invalid_argument, "memcached retry interval must be at least 1 s, not " +
                                            std::to_string(settings.retry_after.count()) + " s");
  }
  if (settings.pool_size == 0 || settings.pool_size > k_max_pool_size) {
    return fail(Errc::invalid_argument, "memcached pool size must be from 1 to " +
                                            std::to_string(k_max_pool_size) + ", not " +
                                            std::to_string(settings.pool_size));
  }
  std::vector<MemcachedServer> servers;
  std::set<std::pair<std::string, std::uint16_t>> seen;
  for (const std::string& entry : settings.servers) {
    auto server = parse_memcached_server(entry);
    if (!server) {
      return tl::unexpected(std::move(server).error());
    }
    if (!seen.emplace(server->host, server->port).second) {
      return bad_server(entry, "listed twice");
    }
    servers.push_back(std::move(*server));
  }

  std::unique_ptr<MemcachedCache> cache(
      new MemcachedCache(std::move(settings), std::move(servers)));
  if (cache->m_servers.empty()) {
    return cache;
  }
  auto master = make_handle(cache->m_settings, cache->m_servers);
  if (!master) {
    return tl::unexpected(std::move(master).error());
  }
  cache->m_master.reset(master->release());
  cache->m_pool.reset(memcached_pool_create(
      cache->m_master.get(), 1, static_cast<std::uint32_t>(cache->m_settings.pool_size)));
  if (!cache->m_pool) {
    return fail(Errc::internal, "memcached_pool_create failed");
  }
  return cache;
}

MemcachedCache::MemcachedCache(MemcachedSettings settings, std::vector<MemcachedServer> servers)
    : m_settings(std::move(settings)),
      m_servers(std::move(servers)),
      m_free_slots(m_settings.pool_size),
      m_hung(m_servers.size(), m_settings.retry_after) {}

MemcachedCache::~MemcachedCache() = default;

MemcachedCache::Fetched MemcachedCache::fetch(std::string_view key) {
  Fetched out;
  Lease lease(*this);
  if (!lease || !lease.for_key(key)) {
    return out;
  }
  std::size_t length = 0;
  std::uint32_t flags = 0;
  memcached_return_t rc = MEMCACHED_SUCCESS;
  std::unique_ptr<char, decltype(&std::free)> value(
      memcached_get(lease.get(), key.data(), key.size(), &length, &flags, &rc), &std::free);
  lease.result(rc);
  if (rc == MEMCACHED_SUCCESS) {
    out.outcome = Fetched::Outcome::found;
    if (value) {
      out.value.assign(value.get(), length);
    }
  } else if (rc == MEMCACHED_NOTFOUND) {
    out.outcome = Fetched::Outcome::absent;
  } else {
    note_error("get", key, lease.get(), rc);
  }
  return out;
}

std::optional<std::string> MemcachedCache::get(std::string_view key) {
  if (m_servers.empty()) {
    ++m_misses;
    return std::nullopt;
  }
  if (!check_key("get", key)) {
    return std::nullopt;
  }
  Fetched f = fetch(key);
  if (f.outcome == Fetched::Outcome::found) {
    ++m_hits;
    return std::move(f.value);
  }
  if (f.outcome == Fetched::Outcome::absent) {
    ++m_misses;
  }
  return std::nullopt;
}

bool MemcachedCache::add(std::string_view key, std::string_view value, std::chrono::seconds ttl) {
  return store(StoreMode::add, key, value, ttl);
}

bool MemcachedCache::set(std::string_view key, std::string_view value, std::chrono::seconds ttl) {
  return store(StoreMode::set, key, value, ttl);
}

bool MemcachedCache::store(StoreMode mode,
                           std::string_view key,
                           std::string_view value,
                           std::chrono::seconds ttl) {
  const std::string_view op = mode == StoreMode::add ? "add" : "set";
  if (m_servers.empty() || !check_key(op, key)) {
    return false;
  }
  if (ttl < std::chrono::seconds::zero()) {
    note_error(std::string("memcached ") + std::string(op) + " " + std::string(key) +
               ": negative TTL " + std::to_string(ttl.count()) + " s");
    return false;
  }
  auto expiration = static_cast<std::time_t>(ttl.count());
  if (ttl > k_max_relative_ttl) {
    expiration = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + ttl);
  }
  Lease lease(*this);
  if (!lease || !lease.for_key(key)) {
    return false;
  }
  const memcached_return_t rc = mode == StoreMode::add
                                    ? memcached_add(lease.get(), key.data(), key.size(),
                                                    value.data(), value.size(), expiration, 0)
                                    : memcached_set(lease.get(), key.data(), key.size(),
                                                    value.data(), value.size(), expiration, 0);
  lease.result(rc);
  if (rc == MEMCACHED_SUCCESS) {
    return true;
  }
  if (mode == StoreMode::add && (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS)) {
    return false;  // the key exists: not an error, Zimbra keeps the first route
  }
  note_error(op, key, lease.get(), rc);
  return false;
}

bool MemcachedCache::remove(std::string_view key) {
  if (m_servers.empty() || !check_key("delete", key)) {
    return false;
  }
  Lease lease(*this);
  if (!lease || !lease.for_key(key)) {
    return false;
  }
  const memcached_return_t rc = memcached_delete(lease.get(), key.data(), key.size(), 0);
  lease.result(rc);
  if (rc == MEMCACHED_SUCCESS) {
    return true;
  }
  if (rc != MEMCACHED_NOTFOUND) {
    note_error("delete", key, lease.get(), rc);
  }
  return false;
}

std::size_t MemcachedCache::remove_everywhere(std::string_view key) {
  if (m_servers.empty() || !check_key("delete", key)) {
    return 0;
  }
  std::size_t confirmed = 0;
  for (const MemcachedServer& server : m_servers) {
    // A handle of its own per server: hashing and the pool's dead-server
    // state must not decide where a purge goes.
    auto mc = make_handle(m_settings, {server});
    if (!mc) {
      note_error("memcached delete on " + server.host + ": " + mc.error().message);
      continue;
    }
    const memcached_return_t rc = memcached_delete(mc->get(), key.data(), key.size(), 0);
    if (rc == MEMCACHED_SUCCESS || rc == MEMCACHED_NOTFOUND) {
      ++confirmed;
    } else {
      note_error("delete", key, mc->get(), rc);
    }
  }
  return confirmed;
}

namespace {

// A counter's text as memcached keeps it: decimal digits, maybe followed by
// the spaces an in-place incr pads a shorter number with.
std::optional<std::uint64_t> parse_counter(std::string_view text) {
  while (!text.empty() && text.back() == ' ') {
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 20) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') {
      return std::nullopt;
    }
    const auto digit = static_cast<std::uint64_t>(ch - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return std::nullopt;
    }
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace

std::optional<std::uint64_t> MemcachedCache::incr(std::string_view key,
                                                  std::chrono::seconds window) {
  if (m_servers.empty() || !check_key("incr", key)) {
    return std::nullopt;
  }
  if (window < std::chrono::seconds(1) || window > k_max_relative_ttl) {
    note_error("memcached incr " + std::string(key) + ": window of " +
               std::to_string(window.count()) + " s (must be from 1 s to 30 days)");
    return std::nullopt;
  }
  Lease lease(*this);
  if (!lease || !lease.for_key(key)) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  memcached_return_t rc = memcached_increment(lease.get(), key.data(), key.size(), 1, &value);
  lease.result(rc);
  if (rc == MEMCACHED_NOTFOUND) {
    const char one = '1';
    rc = memcached_add(lease.get(), key.data(), key.size(), &one, 1,
                       static_cast<std::time_t>(window.count()), 0);
    lease.result(rc);
    if (rc == MEMCACHED_SUCCESS) {
      return 1;
    }
    if (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS) {
      // Another client added it between our incr and add: count on theirs.
      rc = memcached_increment(lease.get(), key.data(), key.size(), 1, &value);
      lease.result(rc);
    }
  }
  if (rc == MEMCACHED_SUCCESS) {
    return value;
  }
  // NOT_FOUND here: the raced key expired or was deleted at once; a miss of
  // one count is not worth a loop.
  note_error("incr", key, lease.get(), rc);
  return std::nullopt;
}

std::optional<std::uint64_t> MemcachedCache::counter(std::string_view key) {
  if (m_servers.empty() || !check_key("get", key)) {
    return std::nullopt;
  }
  const Fetched f = fetch(key);
  if (f.outcome == Fetched::Outcome::absent) {
    return 0;
  }
  if (f.outcome == Fetched::Outcome::failed) {
    return std::nullopt;
  }
  const std::optional<std::uint64_t> count = parse_counter(f.value);
  if (!count) {
    note_error("memcached get " + std::string(key) + ": the value is not a counter");
  }
  return count;
}

std::optional<bool> MemcachedCache::erase(std::string_view key) {
  if (m_servers.empty() || !check_key("delete", key)) {
    return std::nullopt;
  }
  Lease lease(*this);
  if (!lease || !lease.for_key(key)) {
    return std::nullopt;
  }
  const memcached_return_t rc = memcached_delete(lease.get(), key.data(), key.size(), 0);
  lease.result(rc);
  if (rc == MEMCACHED_SUCCESS) {
    return true;
  }
  if (rc == MEMCACHED_NOTFOUND) {
    return false;
  }
  note_error("delete", key, lease.get(), rc);
  return std::nullopt;
}

MemcachedStats MemcachedCache::stats() const noexcept {
  return MemcachedStats{m_hits.load(std::memory_order_relaxed),
                        m_misses.load(std::memory_order_relaxed),
                        m_errors.load(std::memory_order_relaxed)};
}

std::string MemcachedCache::last_error() const {
  std::lock_guard lock(m_error_mutex);
  return m_last_error;
}

bool MemcachedCache::check_key(std::string_view op, std::string_view key) {
  if (is_safe_key(key)) {
    return true;
  }
  // Not echoed: the key may carry CR/LF, which a log line must not.
  note_error("memcached " + std::string(op) + ": refused a key that is empty, over " +
             std::to_string(k_max_key_length) +
             " bytes or has spaces/control bytes (build keys with route/cache_key.hpp)");
  return false;
}

void MemcachedCache::note_error(std::string message) {
  ++m_errors;
  std::lock_guard lock(m_error_mutex);
  m_last_error = std::move(message);
}

void MemcachedCache::note_error(std::string_view op,
                                std::string_view key,
                                memcached_st* mc,
                                int rc) {
  const char* detail = mc != nullptr ? memcached_last_error_message(mc) : nullptr;
  if (detail == nullptr || *detail == '\0') {
    detail = memcached_strerror(mc, static_cast<memcached_return_t>(rc));
  }
  note_error("memcached " + std::string(op) + " " + std::string(key) + ": " + printable(detail));
}

bool MemcachedCache::acquire_slot() {
  std::unique_lock lock(m_slots_mutex);
  if (!m_slots_cv.wait_for(lock, m_settings.timeout, [this] { return m_free_slots > 0; })) {
    return false;
  }
  --m_free_slots;
  return true;
}

void MemcachedCache::release_slot() {
  {
    std::lock_guard lock(m_slots_mutex);
    ++m_free_slots;
  }
  m_slots_cv.notify_one();
}

}  // namespace zmproxy::route

#include "lib/route/memcached_reader.hpp"

#include "lib/core/duration.hpp"
#include "lib/net/deadline.hpp"
#include "lib/net/edge_wait.hpp"
#include "lib/net/stream_io.hpp"
#include "lib/route/cache_key.hpp"
#include "lib/route/memcached_reply.hpp"

#include <cerrno>
#include <map>
#include <sys/socket.h>
#include <thread>

namespace zmproxy::route {

namespace {

namespace asio = net::asio;
using asio::awaitable;
using net::tcp;

std::atomic<std::uint64_t> g_next_reader_id{1};

// Idle connections to memcached servers, per io_context: an Asio service, so
// the sockets close with their context, on its thread. Keyed by reader id
// (a reader replaced by a reload must not hand its connections on); the
// entries of readers that are gone are dropped at the next take or give_back
// on the context, not only when a new reader first gives one back (a reader
// still used by the sessions of its generation then outlived that moment and
// kept its connections for good).
class ReaderConnections : public asio::execution_context::service {
 public:
  using key_type = ReaderConnections;
  static inline asio::execution_context::id id;  // NOLINT: Asio's service idiom

  explicit ReaderConnections(asio::execution_context& ctx) : service(ctx) {}

  // The first thread that asks owns the context's connections; another is
  // told no (a context run by several threads would race on them).
  bool on_owner_thread() {
    const std::thread::id self = std::this_thread::get_id();
    if (m_thread == std::thread::id()) {
      m_thread = self;
    }
    return m_thread == self;
  }

  std::optional<tcp::socket> take(std::uint64_t reader, std::size_t server) {
    drop_gone();
    const auto found = m_idle.find(reader);
    if (found == m_idle.end() || server >= found->second.per_server.size()) {
      return std::nullopt;
    }
    auto& idle = found->second.per_server[server];
    while (!idle.empty()) {
      tcp::socket s = std::move(idle.back());
      idle.pop_back();
      if (s.is_open()) {
        return s;
      }
    }
    return std::nullopt;
  }

  void give_back(std::uint64_t reader, const std::shared_ptr<const int>& alive, std::size_t servers,
                 std::size_t server, tcp::socket s) {
    drop_gone();
    auto [it, added] = m_idle.try_emplace(reader);
    if (added) {
      it->second.alive = alive;
      it->second.per_server.resize(servers);
    }
    auto& idle = it->second.per_server[server];
    if (idle.size() < MemcachedReader::k_max_idle) {
      idle.push_back(std::move(s));
    }
  }

 private:
  struct Idle {
    std::weak_ptr<const int> alive;
    std::vector<std::vector<tcp::socket>> per_server;
  };
  // The readers that are gone (their generation's last session ended after
  // a reload replaced them): their idle connections close. A handful of
  // entries, walked at every read.
  void drop_gone() {
    std::erase_if(m_idle, [](const auto& entry) { return entry.second.alive.expired(); });
  }
  void shutdown() override { m_idle.clear(); }
  std::map<std::uint64_t, Idle> m_idle;
  std::thread::id m_thread;
};

}  // namespace

MemcachedReader::MemcachedReader(std::vector<MemcachedServer> servers,
                                 std::chrono::milliseconds timeout,
                                 std::chrono::seconds retry_after)
    : m_servers(std::move(servers)),
      m_continuum(m_servers),
      m_timeout(timeout),
      m_retry_after(retry_after),
      m_id(g_next_reader_id++),
      m_alive(std::make_shared<const int>(0)),
      m_down_until(std::make_unique<std::atomic<std::int64_t>[]>(m_servers.size())) {}

MemcachedReader::~MemcachedReader() = default;

ReaderStats MemcachedReader::stats() const noexcept {
  return ReaderStats{m_gets.load(std::memory_order_relaxed), m_fallbacks.load(std::memory_order_relaxed),
                     m_errors.load(std::memory_order_relaxed)};
}

std::string MemcachedReader::last_error() const {
  std::lock_guard lock(m_error_mutex);
  return m_last_error;
}

void MemcachedReader::note_error(std::string message) {
  ++m_errors;
  std::lock_guard lock(m_error_mutex);
  m_last_error = std::move(message);
}

bool MemcachedReader::down(std::size_t server) const noexcept {
  const std::int64_t until = m_down_until[server].load(std::memory_order_relaxed);
  return until != 0 && until > core::steady_ms();
}

void MemcachedReader::mark_down(std::size_t server) noexcept {
  m_down_until[server].store(core::steady_ms() + std::chrono::milliseconds(m_retry_after).count(),
                             std::memory_order_relaxed);
}

awaitable<MemcachedReader::Reply> MemcachedReader::get(std::vector<std::string> keys) {
  Reply out;
  if (m_servers.empty() || keys.empty() || keys.size() > k_max_keys) {
    ++m_fallbacks;
    co_return out;
  }
  for (const std::string& key : keys) {
    if (!is_safe_key(key)) {
      // libmemcached refuses such a key too: an error, a miss.
      note_error("memcached get: refused a key that is empty, over " + std::to_string(k_max_key_length) +
                 " bytes or has spaces/control bytes");
      out.outcome = Reply::Outcome::failed;
      co_return out;
    }
  }
  auto ex = co_await asio::this_coro::executor;
  auto& pool = asio::use_service<ReaderConnections>(asio::query(ex, asio::execution::context));
  if (!pool.on_owner_thread()) {
    ++m_fallbacks;
    co_return out;
  }
  out.values.assign(keys.size(), std::nullopt);
  // One request per server, with every key it holds, in the order asked.
  std::vector<bool> done(keys.size(), false);
  for (std::size_t first = 0; first < keys.size(); ++first) {
    if (done[first]) {
      continue;
    }
    const std::size_t server = m_continuum.server_for(keys[first]);
    if (down(server)) {
      ++m_fallbacks;
      out.outcome = Reply::Outcome::fallback;
      out.values.clear();
      co_return out;
    }
    std::vector<std::string> group;
    std::vector<std::size_t> where;
    for (std::size_t i = first; i < keys.size(); ++i) {
      if (!done[i] && m_continuum.server_for(keys[i]) == server) {
        group.push_back(keys[i]);
        where.push_back(i);
        done[i] = true;
      }
    }
    std::vector<std::optional<std::string>> values;
    const Reply::Outcome outcome = co_await ask_server(server, std::move(group), values);
    if (outcome != Reply::Outcome::ok) {
      if (outcome == Reply::Outcome::fallback) {
        ++m_fallbacks;
      }
      out.outcome = outcome;
      out.values.clear();  // what other servers said is not an answer either
      co_return out;
    }
    for (std::size_t j = 0; j < where.size(); ++j) {
      out.values[where[j]] = std::move(values[j]);
    }
  }
  out.outcome = Reply::Outcome::ok;
  co_return out;
}

awaitable<MemcachedReader::Reply::Outcome> MemcachedReader::ask_server(
    std::size_t server, std::vector<std::string> keys, std::vector<std::optional<std::string>>& values) {
  using Outcome = Reply::Outcome;
  auto ex = co_await asio::this_coro::executor;
  auto& pool = asio::use_service<ReaderConnections>(asio::query(ex, asio::execution::context));
  const MemcachedServer& where = m_servers[server];
  std::string request = "get";
  for (const std::string& key : keys) {
    request += ' ';
    request += key;
  }
  request += "\r\n";
  // A pooled connection first; one the server closed meanwhile, one fresh try.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::optional<tcp::socket> socket = attempt == 0 ? pool.take(m_id, server) : std::nullopt;
    const bool reused = socket.has_value();
    if (!reused) {
      socket = co_await net::connect_upstream(where.host, where.port, m_timeout);
      if (!socket) {
        mark_down(server);
        note_error("memcached " + where.host + ":" + std::to_string(where.port) +
                   ": cannot connect; its reads go through libmemcached for " +
                   std::to_string(m_retry_after.count()) + " s");
        co_return Outcome::fallback;
      }
    }
    const Exchange e = co_await exchange(*socket, request, keys, values);
    if (e == Exchange::ok) {
      ++m_gets;
      pool.give_back(m_id, m_alive, m_servers.size(), server, std::move(*socket));
      co_return Outcome::ok;
    }
    if (e == Exchange::stale && reused) {
      continue;
    }
    if (e == Exchange::timed_out) {
      mark_down(server);
      note_error("memcached get on " + where.host + ":" + std::to_string(where.port) + ": no reply within " +
                 std::to_string(m_timeout.count()) + " ms");
      co_return Outcome::failed;
    }
    note_error(e == Exchange::bad ? "memcached get on " + where.host + ":" + std::to_string(where.port) +
                                        ": a reply that is not a get's; the connection is closed"
                                  : "memcached get on " + where.host + ":" + std::to_string(where.port) +
                                        ": the connection closed before the reply");
    co_return Outcome::fallback;
  }
  co_return Outcome::fallback;
}

awaitable<MemcachedReader::Exchange> MemcachedReader::exchange(tcp::socket& socket,
                                                               const std::string& request,
                                                               const std::vector<std::string>& keys,
                                                               std::vector<std::optional<std::string>>& values) {
  // A request of a few hundred bytes on an idle connection fits the socket's
  // buffer: sent at once, or the connection is not used.
  const ssize_t sent = ::send(socket.native_handle(), request.data(), request.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent != static_cast<ssize_t>(request.size())) {
    co_return Exchange::stale;
  }
  const std::size_t bound = keys.size() * (k_max_get_header + 2 + k_max_value + 2) + 5;
  std::string reply;
  char chunk[2048];
  const net::DeadlineScope deadline(socket.get_executor(), socket, m_timeout);
  while (true) {
    // The reply cannot be there yet: wait for it first (no empty read), then
    // read until the socket is dry or the reply whole.
    auto [ec] = co_await net::async_wait_readable(socket, net::use_nothrow);
    if (ec) {
      socket.close();
      co_return deadline.expired() ? Exchange::timed_out : Exchange::stale;
    }
    while (true) {
      const ssize_t n = ::recv(socket.native_handle(), chunk, sizeof chunk, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        break;  // dry: wait for more
      }
      if (n <= 0) {
        socket.close();
        co_return reply.empty() ? Exchange::stale : Exchange::bad;
      }
      reply.append(chunk, static_cast<std::size_t>(n));
      if (reply.size() > bound) {
        socket.close();
        co_return Exchange::bad;
      }
      const GetReplyStatus status = parse_get_reply(reply, keys, k_max_value, values);
      if (status == GetReplyStatus::complete) {
        co_return Exchange::ok;
      }
      if (status == GetReplyStatus::bad) {
        socket.close();
        co_return Exchange::bad;
      }
    }
  }
}

}  // namespace zmproxy::route

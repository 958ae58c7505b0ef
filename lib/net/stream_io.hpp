#pragma once
// Timed reads and writes on a plain or TLS stream (tcp::socket or TlsStream),
// the same for the mail sessions and the web proxy: connecting to an upstream,
// the TLS handshake, a pause that does not block the worker, and the relay's
// per-thread buffer pool. Asio heavy: include only from session translation
// units.

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "lib/net/asio.hpp"
#include "lib/net/deadline.hpp"
#include "lib/net/tls_stream.hpp"

namespace zmproxy::net {

using asio::awaitable;
using Clock = std::chrono::steady_clock;

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

// Connect to host:port (address or name) within `timeout`, TCP_NODELAY on.
// On failure `why` (when given) says what failed, for the log: the name did
// not resolve, the connection was refused, no answer within the timeout.
awaitable<std::optional<tcp::socket>> connect_upstream(std::string host,
                                                       int port,
                                                       std::chrono::milliseconds timeout,
                                                       std::string* why = nullptr);

// TLS handshake as server or client within `timeout`; on failure `why`
// (when given) says how, for the log.
awaitable<bool> handshake(TlsStream& s,
                          asio::ssl::stream_base::handshake_type type,
                          std::chrono::milliseconds timeout,
                          std::string* why = nullptr);

// Sleep without blocking the worker (the auth-failure wait).
awaitable<void> pause_for(std::chrono::milliseconds d);

namespace detail {

// 16 KiB relay buffers (the TLS relay path), reused per worker thread: an idle
// session holds none.
class BufferPool {
 public:
  static constexpr std::size_t k_size = 16 * 1024;
  using Buffer = std::unique_ptr<char[]>;
  static Buffer acquire() {
    auto& free = list();
    if (!free.empty()) {
      Buffer b = std::move(free.back());
      free.pop_back();
      return b;
    }
    return Buffer(new char[k_size]);
  }
  static void release(Buffer b) {
    auto& free = list();
    if (free.size() < 256) {
      free.push_back(std::move(b));
    }
  }

 private:
  static std::vector<Buffer>& list() {
    thread_local std::vector<Buffer> free;
    return free;
  }
};

}  // namespace detail

template <class Stream>
awaitable<bool> read_some(Stream& s, std::string& buffer, std::chrono::milliseconds timeout,
                          bool& timed_out, std::uint64_t& counter) {
  timed_out = false;
  // Read straight into the caller's buffer (grown by one chunk), no copy.
  const std::size_t old = buffer.size();
  buffer.resize(old + 4096);
  const DeadlineScope deadline(lowest(s).get_executor(), lowest(s), timeout);
  auto [ec, n] = co_await s.async_read_some(asio::buffer(buffer.data() + old, 4096), net::use_nothrow);
  buffer.resize(old + (ec ? 0 : n));
  if (ec || n == 0) {
    timed_out = deadline.expired();
    co_return false;
  }
  counter += n;
  co_return true;
}

template <class Stream>
awaitable<bool> write_all(Stream& s, std::string_view data, std::chrono::milliseconds timeout,
                          std::uint64_t& counter) {
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    // What fits the socket's buffer (a mail reply always does) leaves at
    // once and the coroutine goes on without suspending: Asio's async_write
    // would send the same but post its completion, one more trip through
    // the scheduler (often an epoll_wait that finds nothing). The rest, if
    // any, waits below.
    const ssize_t n = ::send(s.native_handle(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      co_return false;
    }
    if (n > 0) {
      counter += static_cast<std::size_t>(n);
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    if (data.empty()) {
      co_return true;
    }
  }
  const DeadlineScope deadline(lowest(s).get_executor(), lowest(s), timeout);
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(data.data(), data.size()), net::use_nothrow);
  counter += n;
  co_return !ec;
}

}  // namespace zmproxy::net

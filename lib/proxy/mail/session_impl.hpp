#pragma once
// Template definitions for session.hpp.

#include <array>
#include <vector>

#include "lib/proxy/mail/deadline.hpp"

namespace zmproxy::proxy::mail {

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
  const DeadlineScope deadline(lowest(s).get_executor(), lowest(s), timeout);
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(data.data(), data.size()), net::use_nothrow);
  counter += n;
  co_return !ec;
}

template <class Stream>
awaitable<bool> write_upstream(Stream& s, std::string_view block, std::chrono::milliseconds timeout,
                               std::uint64_t& counter) {
  if (!upstream_block_ok(block, "mail")) {
    co_return false;
  }
  co_return co_await write_all(s, block, timeout, counter);
}

}  // namespace zmproxy::proxy::mail

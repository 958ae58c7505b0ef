#pragma once
// Template definitions for session.hpp.

#include <array>
#include <vector>

#include <boost/asio/experimental/awaitable_operators.hpp>

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
  using namespace asio::experimental::awaitable_operators;
  timed_out = false;
  std::array<char, 4096> chunk{};
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(timeout);
  auto result = co_await (s.async_read_some(asio::buffer(chunk), net::use_nothrow) ||
                          timer.async_wait(net::use_nothrow));
  if (result.index() == 1) {
    timed_out = true;
    co_return false;
  }
  auto [ec, n] = std::get<0>(result);
  if (ec || n == 0) {
    co_return false;
  }
  buffer.append(chunk.data(), n);
  counter += n;
  co_return true;
}

template <class Stream>
awaitable<bool> write_all(Stream& s, std::string_view data, std::chrono::milliseconds timeout,
                          std::uint64_t& counter) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(timeout);
  auto result = co_await (asio::async_write(s, asio::buffer(data.data(), data.size()), net::use_nothrow) ||
                          timer.async_wait(net::use_nothrow));
  if (result.index() == 1) {
    co_return false;
  }
  auto [ec, n] = std::get<0>(result);
  counter += n;
  co_return !ec;
}

}  // namespace zmproxy::proxy::mail

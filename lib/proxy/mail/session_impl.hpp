#pragma once
// Template definitions for session.hpp.

#include <array>
#include <vector>

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace zmproxy::proxy::mail {

namespace detail {

// 16 KiB relay buffers, reused per worker thread: an idle session holds none.
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

template <class From, class To>
awaitable<void> pump(From& from, To& to, std::uint64_t& counter, Clock::time_point& last) {
  while (true) {
    if (!has_pending(from)) {
      auto [wec] = co_await lowest(from).async_wait(tcp::socket::wait_read, net::use_nothrow);
      if (wec) {
        co_return;
      }
    }
    auto buf = detail::BufferPool::acquire();
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf.get(), detail::BufferPool::k_size),
                                                 net::use_nothrow);
    if (ec || n == 0) {
      detail::BufferPool::release(std::move(buf));
      co_return;
    }
    auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.get(), n), net::use_nothrow);
    detail::BufferPool::release(std::move(buf));
    if (wec) {
      co_return;
    }
    counter += n;
    last = Clock::now();
  }
}

inline awaitable<void> idle_watch(Clock::time_point& last, std::chrono::milliseconds idle) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    const auto deadline = last + idle;
    if (Clock::now() >= deadline) {
      co_return;
    }
    timer.expires_at(deadline);
    auto [ec] = co_await timer.async_wait(net::use_nothrow);
    if (ec) {
      co_return;
    }
  }
}

template <class A, class B>
awaitable<void> relay(A& client, B& upstream, SessionInfo& info, std::chrono::milliseconds idle) {
  using namespace asio::experimental::awaitable_operators;
  Clock::time_point last = Clock::now();
  std::uint64_t from_upstream = 0;
  co_await (pump(client, upstream, info.bytes_in, last) || pump(upstream, client, from_upstream, last) ||
            idle_watch(last, idle));
  info.bytes_out += from_upstream;
}

}  // namespace zmproxy::proxy::mail

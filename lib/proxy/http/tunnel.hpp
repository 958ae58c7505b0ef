#pragma once
// A WebSocket upgrade the mailbox accepted (101): the answer goes to the
// client, then the connection becomes a byte tunnel in both directions that
// ends when either side closes or both have been idle for
// http.tunnel_idle_timeout. Templates over the stream types; included by
// session.cpp only (see message_io.hpp).
//
// Thread affinity: the connection's worker.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "lib/proxy/http/message_io.hpp"

namespace zmproxy::proxy::http {

// One direction of an upgraded tunnel; `last` is when either direction
// last carried a byte.
template <class A, class B>
asio::awaitable<void> pipe(A& from, B& to, std::uint64_t& counted, std::chrono::steady_clock::time_point& last,
                           std::chrono::milliseconds write_timeout) {
  std::unique_ptr<char[]> buf(new char[16 * 1024]);  // uninitialised: it is written before it is read
  while (true) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf.get(), 16 * 1024), net::use_nothrow);
    if (ec || n == 0) {
      co_return;
    }
    last = net::coarse_now();
    Timed deadline(to, write_timeout);
    auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.get(), n), net::use_nothrow);
    if (wec || deadline.expired()) {
      co_return;
    }
    counted += n;
  }
}

// Ends once neither direction of a tunnel has carried a byte for `idle`.
inline asio::awaitable<void> idle_watch(const std::chrono::steady_clock::time_point& last,
                                        std::chrono::milliseconds idle) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    timer.expires_at(last + idle);
    auto [ec] = co_await timer.async_wait(net::use_nothrow);
    if (ec == asio::error::operation_aborted) {
      co_return;  // the tunnel ended first (its other branches won)
    }
    if (net::coarse_now() >= last + idle) {
      co_return;
    }
  }
}

// `res`: the mailbox's 101, its hop-by-hop fields gone. RFC 6455 §4.1: the
// client fails a 101 without Connection and Upgrade, so they are put back.
// Bytes already read on either side (`cbuf`, `ubuf`) go first.
template <class Client, class Up, class Response>
asio::awaitable<void> relay_upgrade(ClientConnection& c, Client& client, beast::flat_buffer& cbuf, Up& up,
                                    beast::flat_buffer& ubuf, const Response& res) {
  std::string& head = c.head;
  serialize_header(head, res.base());
  serialize_fields(head, res.base(), "Connection: Upgrade\r\nUpgrade: websocket\r\n", k_keep_all);
  beast::error_code wec;
  {
    Timed deadline(client, c.cfg.http.send_timeout);
    auto [write_ec, wn] = co_await asio::async_write(client, asio::buffer(head), net::use_nothrow);
    wec = deadline.result(write_ec);
  }
  if (wec) {
    co_return;
  }
  if (ubuf.size() > 0) {
    Timed deadline(client, c.cfg.http.send_timeout);
    co_await asio::async_write(client, ubuf.data(), net::use_nothrow);
    ubuf.consume(ubuf.size());
  }
  if (cbuf.size() > 0) {
    Timed deadline(up, c.cfg.http.send_timeout);
    co_await asio::async_write(up, cbuf.data(), net::use_nothrow);
    cbuf.consume(cbuf.size());
  }
  using namespace asio::experimental::awaitable_operators;
  std::uint64_t down = 0;
  std::chrono::steady_clock::time_point last = net::coarse_now();
  const auto wt = c.cfg.http.send_timeout;
  co_await (pipe(client, up, c.info.bytes_in, last, wt) || pipe(up, client, down, last, wt) ||
            idle_watch(last, c.cfg.http.tunnel_idle_timeout));
  c.info.bytes_out += down;
}

}  // namespace zmproxy::proxy::http

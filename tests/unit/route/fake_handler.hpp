#pragma once
// A Route Lookup Handler inside the test process: serve_lookups on a
// loopback port, answering with `answer` (by default every user routed to
// 10.0.0.1:7143 under the name it was asked for), keeping the users it was
// asked for; and a helper that runs one coroutine to its end on a context.

#include "lib/net/asio.hpp"
#include "lib/route/lookup_http.hpp"
#include "lib/route/lookup_protocol.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace zmproxy::test {

struct FakeHandler {
  using Answer = std::function<route::LookupResponse(const route::LookupRequest&)>;

  net::asio::io_context& io;
  net::tcp::acceptor acceptor;
  route::LookupHttpCounters counters;
  std::string secret;
  Answer answer_with = [](const route::LookupRequest& r) {
    return route::LookupResponse::route("10.0.0.1", 7143, r.user);
  };
  std::vector<std::string> users;

  explicit FakeHandler(net::asio::io_context& context, std::string required_secret = "")
      : io(context),
        acceptor(context, net::tcp::endpoint(net::asio::ip::make_address("127.0.0.1"), 0)),
        secret(std::move(required_secret)) {
    net::asio::co_spawn(io, accept_loop(), net::asio::detached);
  }

  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  }

  net::asio::awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor.async_accept(net::use_nothrow);
      if (ec) {
        co_return;
      }
      net::asio::co_spawn(io,
                          route::serve_lookups(std::move(socket), secret, counters,
                                               [this](route::Headers headers) {
                                                 return answer(std::move(headers));
                                               }),
                          net::asio::detached);
    }
  }

  net::asio::awaitable<route::LookupResponse> answer(route::Headers headers) {
    auto request = route::parse_lookup_request(headers);
    REQUIRE(request);
    users.push_back(request->user);
    co_return answer_with(*request);
  }
};

// A loopback port nobody listens on (bound, then closed).
inline std::string dead_address() {
  net::asio::io_context io;
  net::tcp::acceptor a(io, net::tcp::endpoint(net::asio::ip::make_address("127.0.0.1"), 0));
  return "127.0.0.1:" + std::to_string(a.local_endpoint().port());
}

// Run `task` on `io` until it completes (at most 10 s) and return its result.
template <typename T>
T run_to_end(net::asio::io_context& io, net::asio::awaitable<T> task) {
  std::optional<T> out;
  net::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T result) {
    REQUIRE_FALSE(e);
    out = std::move(result);
  });
  io.restart();  // a context that ran out of work stays stopped until restarted
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!out && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(100));
  }
  REQUIRE(out);
  return std::move(*out);
}

}  // namespace zmproxy::test

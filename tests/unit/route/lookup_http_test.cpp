#include "lib/route/lookup_http.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace zmproxy;
using namespace zmproxy::route;
namespace asio = net::asio;

namespace {

// A lookup that answers OK for "user1" and an error for anyone else, and
// keeps the Auth-User values it was asked for.
struct FakeLookup {
  std::vector<std::string> users;

  LookupCall call() {
    return [this](Headers headers) -> asio::awaitable<LookupResponse> {
      std::string user;
      for (const auto& [name, value] : headers) {
        if (name == "Auth-User") {
          user = value;
        }
      }
      users.push_back(user);
      if (user != "user1") {
        co_return LookupResponse::error("user not found:" + user, 3);
      }
      co_return LookupResponse::route("10.0.0.1", 7143, "user1@example.com");
    };
  }
};

// Sends `request` (all of it, then end of stream) to serve_lookups (or, with
// `refuse`, refuse_connection) over loopback and returns every byte the
// server wrote before it closed.
std::string exchange(const std::string& request,
                     const std::string& secret,
                     LookupHttpCounters& counters,
                     FakeLookup& lookup,
                     bool refuse = false) {
  asio::io_context io;
  net::tcp::acceptor acceptor(io, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  net::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  net::tcp::socket server(io);
  acceptor.accept(server);
  asio::write(client, asio::buffer(request));
  client.shutdown(net::tcp::socket::shutdown_send);
  if (refuse) {
    asio::co_spawn(io, refuse_connection(std::move(server)), asio::detached);
  } else {
    asio::co_spawn(io, serve_lookups(std::move(server), secret, counters, lookup.call()),
                   asio::detached);
  }
  io.run_for(std::chrono::seconds(10));
  REQUIRE(io.stopped());  // the server finished: it did not wait for more
  std::string reply;
  boost::system::error_code ec;
  std::array<char, 4096> buffer;
  while (!ec) {
    const std::size_t n = client.read_some(asio::buffer(buffer), ec);
    reply.append(buffer.data(), n);
  }
  CHECK(ec == asio::error::eof);
  return reply;
}

std::string get(std::string_view user,
                std::string_view version = "1.1",
                std::string_view extra = "") {
  return "GET /service/extension/nginx-lookup HTTP/" + std::string(version) +
         "\r\nHost: localhost\r\nAuth-Method: plain\r\nAuth-User: " + std::string(user) +
         "\r\nAuth-Protocol: imap\r\n" + std::string(extra) + "\r\n";
}

const std::string k_ok_reply =
    "HTTP/1.1 200 OK\r\nAuth-Status: OK\r\nAuth-Server: 10.0.0.1\r\nAuth-Port: 7143\r\n"
    "Auth-Cache-Alias: FALSE\r\nAuth-User: user1@example.com\r\nContent-Length: 0\r\n\r\n";

}  // namespace

TEST_CASE("requests are gated by secret, then path, then method", "[route][lookup_http]") {
  const std::string_view path = "/service/extension/nginx-lookup";
  CHECK(gate_request(path, true, "", "") == RequestGate::lookup);
  CHECK(gate_request("/service/extension/nginx-lookup?x=1", true, "", "") == RequestGate::lookup);
  CHECK(gate_request("/other", true, "", "") == RequestGate::not_found);
  CHECK(gate_request(path, false, "", "") == RequestGate::method_not_allowed);
  CHECK(gate_request(path, true, "s3cr3t", "s3cr3t") == RequestGate::lookup);
  CHECK(gate_request(path, true, "s3cr3", "s3cr3t") == RequestGate::forbidden);
  CHECK(gate_request(path, true, "", "s3cr3t") == RequestGate::forbidden);
  // The secret first: a caller without it learns nothing of paths or methods.
  CHECK(gate_request("/other", false, "wrong", "s3cr3t") == RequestGate::forbidden);
}

TEST_CASE("reply heads: status line, Auth lines, length, Connection when not the default",
          "[route][lookup_http]") {
  CHECK(format_reply_head(11, 200, true, "Auth-Status: OK\r\n") ==
        "HTTP/1.1 200 OK\r\nAuth-Status: OK\r\nContent-Length: 0\r\n\r\n");
  CHECK(format_reply_head(11, 404, false, "") ==
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(format_reply_head(10, 405, true, "") ==
        "HTTP/1.0 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
  CHECK(format_reply_head(10, 403, false, "") ==
        "HTTP/1.0 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

TEST_CASE("lookups on one keep-alive connection, errors counted", "[route][lookup_http]") {
  LookupHttpCounters counters;
  FakeLookup lookup;
  const std::string reply = exchange(get("user1") + get("ghost"), "", counters, lookup);
  CHECK(reply == k_ok_reply +
                     "HTTP/1.1 200 OK\r\nAuth-Status: user not found:ghost\r\nAuth-Wait: 3\r\n"
                     "Content-Length: 0\r\n\r\n");
  CHECK(lookup.users == std::vector<std::string>{"user1", "ghost"});
  CHECK(counters.requests == 2);
  CHECK(counters.errors == 1);
  CHECK(counters.refused == 0);
}

TEST_CASE("HTTP/1.0 keeps the connection only when asked to", "[route][lookup_http]") {
  LookupHttpCounters counters;
  FakeLookup lookup;
  std::string reply = exchange(get("user1", "1.0") + get("user1", "1.0"), "", counters, lookup);
  CHECK(reply.find("HTTP/1.0 200 OK\r\n") == 0);
  CHECK(reply.find("Connection: close\r\n") != std::string::npos);
  CHECK(lookup.users.size() == 1);  // closed after the first
  lookup.users.clear();
  reply = exchange(get("user1", "1.0", "Connection: keep-alive\r\n") + get("user1", "1.0"), "",
                   counters, lookup);
  CHECK(reply.find("Connection: keep-alive\r\n") != std::string::npos);
  CHECK(lookup.users.size() == 2);
}

TEST_CASE("other paths and methods get 404 and 405 and no lookup", "[route][lookup_http]") {
  LookupHttpCounters counters;
  FakeLookup lookup;
  const std::string reply = exchange(
      "GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /service/extension/nginx-lookup HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" +
          get("user1"),
      "", counters, lookup);
  CHECK(reply ==
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n" +
            k_ok_reply);
  CHECK(lookup.users == std::vector<std::string>{"user1"});
}

TEST_CASE("a wrong secret gets 403 and the connection closes", "[route][lookup_http]") {
  LookupHttpCounters counters;
  FakeLookup lookup;
  std::string reply =
      exchange(get("user1", "1.1", "X-Zmproxy-Lookup-Secret: nope\r\n") + get("user1"), "s3cr3t",
               counters, lookup);
  CHECK(reply == "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(lookup.users.empty());
  CHECK(counters.refused == 1);
  reply = exchange(get("user1", "1.1", "x-zmproxy-lookup-secret: s3cr3t\r\n"), "s3cr3t", counters,
                   lookup);
  CHECK(reply == k_ok_reply);
}

TEST_CASE("what is not HTTP, or headers over 16 KiB, get no answer", "[route][lookup_http]") {
  LookupHttpCounters counters;
  FakeLookup lookup;
  CHECK(exchange("HELLO\r\n\r\n", "", counters, lookup).empty());
  CHECK(exchange(get("user1", "1.1", "X-Pad: " + std::string(17 * 1024, 'a') + "\r\n"), "",
                 counters, lookup)
            .empty());
  CHECK(lookup.users.empty());
  CHECK(counters.requests == 0);
}

TEST_CASE("a refused caller gets 403 without its request being read", "[route][lookup_http]") {
  LookupHttpCounters counters;
  FakeLookup lookup;
  CHECK(exchange(get("user1"), "", counters, lookup, true) ==
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(lookup.users.empty());
}

namespace {

// A service that answers "user1" at once (its one reused answer) and any
// other user only when awaited, keeping the order it was asked in.
class MixedService final : public LookupService {
 public:
  std::vector<std::string> asked;

  const LookupResponse* answer_now(const HeaderViews& fields) override {
    const std::string user = user_of(fields);
    if (user != "user1") {
      return nullptr;
    }
    asked.push_back("now:" + user);
    m_answer.assign_route("10.0.0.1", 7143, "user1@example.com");
    return &m_answer;
  }
  asio::awaitable<LookupResponse> answer_later(const HeaderViews& fields) override {
    const std::string user = user_of(fields);
    asked.push_back("later:" + user);
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
    co_await t.async_wait(asio::use_awaitable);
    co_return LookupResponse::error("user not found:" + user, 3);
  }

 private:
  static std::string user_of(const HeaderViews& fields) {
    for (const auto& [name, value] : fields) {
      if (name == "Auth-User") {
        return std::string(value);
      }
    }
    return {};
  }
  LookupResponse m_answer;
};

// As exchange(), through the LookupService form of serve_lookups.
std::string exchange_with(const std::string& request, LookupHttpCounters& counters, LookupService& service) {
  asio::io_context io;
  net::DeadlineSweeper sweeper(io.get_executor());
  net::tcp::acceptor acceptor(io, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  net::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  net::tcp::socket server(io);
  acceptor.accept(server);
  asio::write(client, asio::buffer(request));
  client.shutdown(net::tcp::socket::shutdown_send);
  bool done = false;
  asio::co_spawn(io, serve_lookups(std::move(server), "", counters, service, sweeper),
                 [&](std::exception_ptr) { done = true; });
  for (int i = 0; i < 1000 && !done; ++i) {
    io.run_one_for(std::chrono::milliseconds(10));
  }
  REQUIRE(done);
  std::string reply;
  boost::system::error_code ec;
  std::array<char, 4096> buffer;
  while (!ec) {
    const std::size_t n = client.read_some(asio::buffer(buffer), ec);
    reply.append(buffer.data(), n);
  }
  return reply;
}

}  // namespace

TEST_CASE("pipelined lookups answered at once and awaited keep their order, up to a close",
          "[route][lookup_http]") {
  LookupHttpCounters counters;
  MixedService service;
  const std::string error_reply =
      "HTTP/1.1 200 OK\r\nAuth-Status: user not found:ghost\r\nAuth-Wait: 3\r\nContent-Length: 0\r\n\r\n";
  const std::string reply = exchange_with(get("user1") + get("ghost") + get("user1") +
                                              get("user1", "1.1", "Connection: close\r\n") + get("user1"),
                                          counters, service);
  const std::string closing =
      "HTTP/1.1 200 OK\r\nAuth-Status: OK\r\nAuth-Server: 10.0.0.1\r\nAuth-Port: 7143\r\n"
      "Auth-Cache-Alias: FALSE\r\nAuth-User: user1@example.com\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  CHECK(reply == k_ok_reply + error_reply + k_ok_reply + closing);
  // The request after the one that closed is not answered.
  CHECK(service.asked == std::vector<std::string>{"now:user1", "later:ghost", "now:user1", "now:user1"});
  CHECK(counters.requests == 4);
  CHECK(counters.errors == 1);
}

TEST_CASE("an awaited lookup that closes the connection ends the answers there", "[route][lookup_http]") {
  LookupHttpCounters counters;
  MixedService service;
  const std::string reply =
      exchange_with(get("user1") + get("ghost", "1.0") + get("user1"), counters, service);
  CHECK(reply == k_ok_reply +
                     "HTTP/1.0 200 OK\r\nAuth-Status: user not found:ghost\r\nAuth-Wait: 3\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(service.asked == std::vector<std::string>{"now:user1", "later:ghost"});
}

// MemcachedReader against real memcached processes (tests/support/memcached_process.hpp),
// with the keys written by libmemcached (MemcachedCache): the reader must find
// each on the server libmemcached chose. Plus a hostile server of our own.

#include "lib/route/memcached_reader.hpp"

#include "lib/route/cache_key.hpp"
#include "lib/route/memcached_cache.hpp"

#include "tests/support/memcached_process.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace zmproxy;
using namespace zmproxy::route;
using namespace std::chrono_literals;
namespace asio = net::asio;
using Outcome = MemcachedReader::Reply::Outcome;
using zmproxy::test::MemcachedProcess;
using zmproxy::test::raw_get;
using zmproxy::test::raw_stat;

namespace {

// One io_context run by one thread of its own, as a zmproxyd worker (the
// reader's connections belong to the thread that first used them; the
// deadline sweeper is per thread). Tasks are posted from the test's thread.
struct Worker {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  std::thread thread{[this] { io.run(); }};

  Worker() = default;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() {
    guard.reset();
    io.stop();
    thread.join();
  }

  MemcachedReader::Reply get(MemcachedReader& reader, std::vector<std::string> keys) {
    std::promise<MemcachedReader::Reply> done;
    auto future = done.get_future();
    asio::co_spawn(io, reader.get(std::move(keys)), [&done](std::exception_ptr e, MemcachedReader::Reply r) {
      if (e) {
        done.set_exception(e);
      } else {
        done.set_value(std::move(r));
      }
    });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    return future.get();
  }
};

std::vector<MemcachedServer> servers_of(const std::vector<const MemcachedProcess*>& processes) {
  std::vector<MemcachedServer> out;
  for (const MemcachedProcess* p : processes) {
    out.push_back(MemcachedServer{"127.0.0.1", p->port()});
  }
  return out;
}

std::string key_of(int i) { return route_key("imap", "user" + std::to_string(i) + "@example.com"); }
std::string value_of(int i) { return "10.0.0." + std::to_string(i % 250) + ":7143"; }

// A server that answers the first request line of one connection with
// `reply`, then tells whether the client closed the connection (within 5 s).
class HostileServer {
 public:
  explicit HostileServer(std::string reply) : m_reply(std::move(reply)) {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(m_fd, 4) == 0);
    REQUIRE(::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    m_port = ntohs(addr.sin_port);
    m_thread = std::thread([this] { serve(); });
  }
  ~HostileServer() {
    ::shutdown(m_fd, SHUT_RDWR);
    m_thread.join();
    ::close(m_fd);
  }
  HostileServer(const HostileServer&) = delete;
  HostileServer& operator=(const HostileServer&) = delete;

  std::uint16_t port() const { return m_port; }
  bool client_closed() { return m_closed.get_future().get(); }

 private:
  void serve() {
    const int c = ::accept(m_fd, nullptr, nullptr);
    if (c < 0) {
      m_closed.set_value(false);
      return;
    }
    timeval tv{5, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string request;
    char buf[512];
    while (request.find("\r\n") == std::string::npos) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) {
        break;
      }
      request.append(buf, static_cast<std::size_t>(n));
    }
    ::send(c, m_reply.data(), m_reply.size(), MSG_NOSIGNAL);
    bool closed = false;
    while (true) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) {
        closed = true;  // a FIN, or a RST when our reply was left unread
      }
      if (n <= 0) {
        break;
      }
    }
    m_closed.set_value(closed);
    ::close(c);
  }

  std::string m_reply;
  int m_fd = -1;
  std::uint16_t m_port = 0;
  std::thread m_thread;
  std::promise<bool> m_closed;
};

}  // namespace

TEST_CASE("the reader finds what libmemcached wrote, on the server libmemcached chose", "[memcached]") {
  MemcachedProcess a;
  MemcachedProcess b;
  MemcachedProcess c;
  const std::vector<MemcachedServer> servers = servers_of({&a, &b, &c});
  auto cache = MemcachedCache::create(
      MemcachedSettings{{a.address(), b.address(), c.address()}, 500ms, 60s, 4});
  REQUIRE(cache);
  constexpr int k_keys = 90;
  for (int i = 0; i < k_keys; ++i) {
    REQUIRE((*cache)->set(key_of(i), value_of(i), 3600s));
  }
  MemcachedReader reader(servers, 500ms, 60s);
  const std::vector<const MemcachedProcess*> processes = {&a, &b, &c};
  for (const MemcachedProcess* p : processes) {
    CHECK(raw_stat(p->port(), "curr_items").value_or(0) > 0);  // spread over all three
  }
  Worker worker;
  for (int i = 0; i < k_keys; ++i) {
    // Where the reader reads it is where libmemcached wrote it.
    CHECK(raw_get(processes[reader.server_for(key_of(i))]->port(), key_of(i)) == value_of(i));
    // An absent key beside it (another server, often), as the resolver asks.
    const auto reply = worker.get(reader, {alias_key("user" + std::to_string(i), "10.1.1.1"), key_of(i)});
    REQUIRE(reply.outcome == Outcome::ok);
    CHECK_FALSE(reply.values[0]);
    CHECK(reply.values[1] == value_of(i));
  }
  const ReaderStats stats = reader.stats();
  CHECK(stats.fallbacks == 0);
  CHECK(stats.errors == 0);
  CHECK(stats.gets >= k_keys);
}

TEST_CASE("the reader keeps its connection, and retries once when the server closed it", "[memcached]") {
  MemcachedProcess server;
  auto cache = MemcachedCache::create(MemcachedSettings{{server.address()}, 500ms, 60s, 4});
  REQUIRE(cache);
  REQUIRE((*cache)->set(key_of(1), value_of(1), 3600s));
  MemcachedReader reader(servers_of({&server}), 500ms, 60s);
  Worker worker;
  const auto before = raw_stat(server.port(), "total_connections");
  REQUIRE(before);
  for (int i = 0; i < 20; ++i) {
    REQUIRE(worker.get(reader, {key_of(1)}).values[0] == value_of(1));
  }
  // One connection of the reader's, and raw_stat's own second one.
  CHECK(raw_stat(server.port(), "total_connections") == *before + 2);

  server.restart();  // same port, empty, and our pooled connection is dead
  REQUIRE(zmproxy::test::raw_set(server.port(), key_of(1), "10.9.9.9:7143"));
  const auto reply = worker.get(reader, {key_of(1)});
  REQUIRE(reply.outcome == Outcome::ok);
  CHECK(reply.values[0] == "10.9.9.9:7143");
  CHECK(reader.stats().fallbacks == 0);
}

TEST_CASE("a server down is handed back to libmemcached, a hung one costs one timeout", "[memcached]") {
  MemcachedProcess server;
  MemcachedReader reader(servers_of({&server}), 300ms, 60s);
  Worker worker;
  REQUIRE(worker.get(reader, {key_of(2)}).outcome == Outcome::ok);

  SECTION("hung: failed within the timeout (and the deadline sweep), then handed back") {
    server.pause();
    const auto start = std::chrono::steady_clock::now();
    CHECK(worker.get(reader, {key_of(2)}).outcome == Outcome::failed);
    CHECK(std::chrono::steady_clock::now() - start < 1500ms);
    server.resume();
    CHECK(worker.get(reader, {key_of(2)}).outcome == Outcome::fallback);  // marked down for retry_after
    CHECK(reader.stats().errors == 1);
  }
  SECTION("gone: handed back at once") {
    server.stop();
    CHECK(worker.get(reader, {key_of(2)}).outcome == Outcome::fallback);
    CHECK(worker.get(reader, {key_of(2)}).outcome == Outcome::fallback);
    CHECK(reader.stats().fallbacks == 2);
  }
}

TEST_CASE("a reply the reader does not believe closes the connection and is handed back", "[memcached]") {
  const std::string key = key_of(3);
  const std::vector<std::string> replies = {
      "VALUE " + key + " 0 13\r\n10.6.6.6:7143\r\nEND\r\nVALUE " + key + " 0 1\r\nx\r\nEND\r\n",  // smuggled
      "SERVER_ERROR out of memory\r\n",
      "VALUE route:proto=imap;user=someone-else 0 13\r\n10.6.6.6:7143\r\nEND\r\n",
      "VALUE " + key + " 0 999999\r\n",
      std::string(20000, 'A'),
  };
  for (const std::string& text : replies) {
    INFO(text.substr(0, 60));
    HostileServer hostile(text);
    MemcachedReader reader({MemcachedServer{"127.0.0.1", hostile.port()}}, 500ms, 60s);
    Worker worker;
    const auto reply = worker.get(reader, {key});
    CHECK(reply.outcome == Outcome::fallback);
    CHECK(reply.values.empty());
    CHECK(reader.stats().errors == 1);
    CHECK(hostile.client_closed());
  }
}

TEST_CASE("keys memcached would refuse are not sent", "[memcached]") {
  MemcachedReader reader({MemcachedServer{"127.0.0.1", 1}}, 500ms, 60s);
  Worker worker;
  CHECK(worker.get(reader, {"a key with spaces"}).outcome == Outcome::failed);
  CHECK(worker.get(reader, {std::string(300, 'k')}).outcome == Outcome::failed);
  CHECK(worker.get(reader, {}).outcome == Outcome::fallback);
}

TEST_CASE("a reader that is gone has its idle connections closed by the next read on the worker",
          "[memcached]") {
  MemcachedProcess server;
  auto cache = MemcachedCache::create(MemcachedSettings{{server.address()}, 500ms, 60s, 4});
  REQUIRE(cache);
  REQUIRE((*cache)->set(key_of(1), value_of(1), 3600s));
  Worker worker;
  // The server's open connections, raw_stat's own one among them.
  const auto open_now = [&] { return raw_stat(server.port(), "curr_connections").value_or(0); };
  const auto settle = [&](std::uint64_t want) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (open_now() != want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);  // poll interval
    }
    return open_now();
  };
  const auto base = open_now();

  // A reload replaced `old` by `next` while the sessions of old's generation
  // still read with it: both keep their connection.
  auto old = std::make_unique<MemcachedReader>(servers_of({&server}), 500ms, 60s);
  REQUIRE(worker.get(*old, {key_of(1)}).values[0] == value_of(1));
  MemcachedReader next(servers_of({&server}), 500ms, 60s);
  REQUIRE(worker.get(next, {key_of(1)}).values[0] == value_of(1));
  CHECK(settle(base + 2) == base + 2);

  // Then the last of those sessions ends: old goes, and the next read on
  // the worker closes its connection.
  old.reset();
  REQUIRE(worker.get(next, {key_of(1)}).values[0] == value_of(1));
  CHECK(settle(base + 1) == base + 1);
}

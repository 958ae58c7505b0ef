#include "lib/proxy/http/upstream_pool.hpp"

#include "lib/net/edge_flag.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <utility>

using namespace zmproxy;
using namespace zmproxy::proxy::http;
using namespace std::chrono_literals;
namespace asio = net::asio;

namespace {

// A connected loopback pair: the pooled client end and the "server" end.
struct Pair {
  asio::io_context io;
  std::unique_ptr<UpstreamConn> conn = std::make_unique<UpstreamConn>();
  net::tcp::socket server{io};

  Pair() {
    net::tcp::acceptor acceptor(io, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto client = std::make_unique<net::tcp::socket>(io);
    client->connect(acceptor.local_endpoint());
    acceptor.accept(server);
    conn->stream = std::move(client);
  }
  UpstreamConn* raw() const { return conn.get(); }
};

const auto t0 = std::chrono::steady_clock::time_point(1000s);

// The client end has seen what the server did (loopback: at once, but the
// test does not rely on it).
void wait_readable(UpstreamConn* c) {
  auto& s = *std::get<std::unique_ptr<net::tcp::socket>>(c->stream);
  s.wait(net::tcp::socket::wait_read);
}

}  // namespace

TEST_CASE("a healthy idle connection is reused", "[http][upstream_pool]") {
  Pair p;
  UpstreamConn* raw = p.raw();
  UpstreamPool pool;
  pool.give("k", std::move(p.conn), t0);
  CHECK(pool.idle_count("k") == 1);
  auto c = pool.take("k", t0 + 1s);
  CHECK(c.get() == raw);
  CHECK(pool.take("k", t0 + 1s) == nullptr);
  CHECK(pool.take("other", t0) == nullptr);
}

TEST_CASE("a connection the server closed is not handed out", "[http][upstream_pool]") {
  Pair p;
  UpstreamConn* raw = p.raw();
  UpstreamPool pool;
  pool.give("k", std::move(p.conn), t0);
  p.server.close();
  wait_readable(raw);
  CHECK(pool.take("k", t0) == nullptr);
  CHECK(pool.idle_count("k") == 0);
}

TEST_CASE("a connection with bytes nobody asked for is not handed out", "[http][upstream_pool]") {
  Pair p;
  UpstreamConn* raw = p.raw();
  UpstreamPool pool;
  pool.give("k", std::move(p.conn), t0);
  asio::write(p.server, asio::buffer(std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED")));
  wait_readable(raw);
  CHECK(pool.take("k", t0) == nullptr);
}

TEST_CASE("a connection with bytes read ahead is not kept", "[http][upstream_pool]") {
  Pair p;
  p.conn->buffer.commit(asio::buffer_copy(p.conn->buffer.prepare(4), asio::buffer("junk", 4)));
  UpstreamPool pool;
  pool.give("k", std::move(p.conn), t0);
  CHECK(pool.idle_count("k") == 0);
}

TEST_CASE("idle connections older than k_idle_max are closed", "[http][upstream_pool]") {
  Pair old_one;
  Pair young;
  UpstreamConn* young_raw = young.raw();
  UpstreamPool pool;
  pool.give("k", std::move(old_one.conn), t0);
  pool.give("k", std::move(young.conn), t0 + 30s);
  CHECK(pool.idle_count("k") == 2);
  // The old one is past the limit when the next connection comes back.
  Pair third;
  pool.give("k", std::move(third.conn), t0 + UpstreamPool::k_idle_max + 1s);
  CHECK(pool.idle_count("k") == 2);
  auto c = pool.take("k", t0 + UpstreamPool::k_idle_max + 40s);  // the young one is too old by now, too
  CHECK(c != nullptr);
  CHECK(c.get() != young_raw);
  CHECK(pool.take("k", t0 + UpstreamPool::k_idle_max + 40s) == nullptr);
}

namespace {

net::tcp::socket& socket_of(UpstreamConn* c) { return *std::get<std::unique_ptr<net::tcp::socket>>(c->stream); }

// Runs the reactor (epoll with no wait, kept busy by a far timer) until it
// has reported readiness on the client end, 5 s at most.
bool reactor_sees(asio::io_context& io, UpstreamConn* c) {
  asio::steady_timer keep_busy(io, std::chrono::hours(1));
  keep_busy.async_wait([](const boost::system::error_code&) {});
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!net::read_ready_since_drained(socket_of(c)) && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.poll();
  }
  keep_busy.cancel();
  io.restart();
  io.poll();
  return net::read_ready_since_drained(socket_of(c));
}

}  // namespace

TEST_CASE("a connection is quiet only when marked drained and the reactor saw nothing since",
          "[http][upstream_pool]") {
  Pair p;
  UpstreamConn* raw = p.raw();
  CHECK_FALSE(idle_connection_quiet(*raw));  // never marked: unknown
  net::mark_read_drained(socket_of(raw));
  CHECK(idle_connection_quiet(*raw));
  SECTION("bytes nobody asked for") {
    asio::write(p.server, asio::buffer(std::string_view("SMUGGLED")));
    REQUIRE(reactor_sees(p.io, raw));
    CHECK_FALSE(idle_connection_quiet(*raw));
    UpstreamPool pool;
    pool.give("k", std::move(p.conn), t0);
    CHECK(pool.take("k", t0, true) == nullptr);  // not quiet: the peek finds the bytes
  }
  SECTION("the server's close") {
    p.server.close();
    REQUIRE(reactor_sees(p.io, raw));
    CHECK_FALSE(idle_connection_quiet(*raw));
    UpstreamPool pool;
    pool.give("k", std::move(p.conn), t0);
    CHECK(pool.take("k", t0, true) == nullptr);
  }
  SECTION("bytes read ahead") {
    raw->buffer.commit(asio::buffer_copy(raw->buffer.prepare(4), asio::buffer("junk", 4)));
    CHECK_FALSE(idle_connection_quiet(*raw));
  }
  SECTION("marked again after a read: quiet, and taken without a peek") {
    asio::write(p.server, asio::buffer(std::string_view("x")));
    REQUIRE(reactor_sees(p.io, raw));
    char byte = 0;
    socket_of(raw).read_some(asio::buffer(&byte, 1));
    net::mark_read_drained(socket_of(raw));
    CHECK(idle_connection_quiet(*raw));
    UpstreamPool pool;
    pool.give("k", std::move(p.conn), t0);
    CHECK(pool.take("k", t0, true).get() == raw);
  }
  SECTION("unmarked: Asio's reads try first again") {
    net::mark_read_unknown(socket_of(raw));
    CHECK(net::read_ready_since_drained(socket_of(raw)));
    CHECK_FALSE(idle_connection_quiet(*raw));
  }
}

#pragma once
// Runs the mail sessions in process for the Catch2 tests: a hand-built
// Generation whose resolver asks a FakeUpstream lookup handler, a client on
// loopback, and the login at the mailbox alone against a FakeUpstream.
// Every run is bounded (10 s); nothing here sleeps.

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <thread>

#include "lib/config/proxy_config.hpp"
#include "lib/log/access_log.hpp"
#include "lib/net/asio.hpp"
#include "lib/proxy/connection_slot.hpp"
#include "lib/proxy/counters.hpp"
#include "lib/proxy/generation.hpp"
#include "lib/proxy/mail/mailbox_login.hpp"
#include "lib/route/route_resolver.hpp"
#include "tests/support/fake_upstream.hpp"

namespace zmproxy::test {

namespace asio = net::asio;

inline void rethrow(std::exception_ptr e) {
  if (e) {
    std::rethrow_exception(e);
  }
}

// Runs `f` on a thread of its own, rethrowing what it throws. Each run's
// io_context gets its own thread: net::DeadlineSweeper is per thread and
// keeps the first io_context it sees (the daemon has one per worker).
template <class F>
void on_own_thread(F f) {
  std::exception_ptr error;
  std::thread t([&] {
    try {
      f();
    } catch (...) {
      error = std::current_exception();
    }
  });
  t.join();
  rethrow(error);
}

// A generation from `toml` (config::parse_config) whose routes come from the
// lookup handler at 127.0.0.1:`lookup_port` (no cache, no memcached).
inline std::shared_ptr<const proxy::Generation> make_generation(const std::string& toml, unsigned short lookup_port) {
  auto cfg = config::parse_config(toml, "zmproxy.conf", "/tmp");
  if (!cfg) {
    throw std::runtime_error(cfg.error().message);
  }
  route::ResolverSettings rs;
  rs.handlers = {"127.0.0.1:" + std::to_string(lookup_port)};
  rs.caching = false;
  rs.local_ttl = std::chrono::seconds(0);
  auto resolver = route::RouteResolver::create(rs);
  if (!resolver) {
    throw std::runtime_error(resolver.error().message);
  }
  auto g = std::make_shared<proxy::Generation>();
  g->config = *cfg;
  g->resolver = *resolver;
  g->access_log = std::make_shared<log::AccessLog>(std::filesystem::path());
  g->counters = std::make_shared<proxy::Counters>();
  return g;
}

// A client of `session` (imap:: or pop3::run_session) on loopback: it sends
// `input` at once, reads until `until` appears, then closes. Returns what it
// read. Runs until the client and the `mailbox` are both done (or 10 s).
template <class Session>
std::string drive_session(Session session, std::shared_ptr<const proxy::Generation> gen, const std::string& input,
                          const std::string& until, FakeUpstream& mailbox) {
  std::string seen;
  asio::io_context io;  // outlives the thread and its DeadlineSweeper
  on_own_thread([&] {
    net::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    bool client_done = false;
    auto server = [&]() -> asio::awaitable<void> {
      net::tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
      // Built outside co_await: GCC 12 miscompiles temporaries passed by value there.
      proxy::ConnectionSlot slot;
      auto run = session(gen, std::move(socket), false, std::move(slot), std::nullopt, std::nullopt);
      co_await std::move(run);
    };
    auto client = [&]() -> asio::awaitable<void> {
      net::tcp::socket c(io);
      const net::tcp::endpoint at = acceptor.local_endpoint();
      co_await c.async_connect(at, asio::use_awaitable);
      co_await asio::async_write(c, asio::buffer(input), asio::use_awaitable);
      char buf[4096];
      while (seen.find(until) == std::string::npos) {
        auto [ec, n] = co_await c.async_read_some(asio::buffer(buf), net::use_nothrow);
        if (ec) {
          break;
        }
        seen.append(buf, n);
      }
      c.close();
      client_done = true;
    };
    asio::co_spawn(io, server(), rethrow);
    asio::co_spawn(io, client(), rethrow);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!(client_done && mailbox.done()) && std::chrono::steady_clock::now() < deadline) {
      if (io.stopped()) {  // out of work: only the mailbox's thread is left to finish
        io.restart();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      io.run_for(std::chrono::milliseconds(20));
    }
  });
  return seen;
}

// A login request for the mailbox `fake`: the client 192.0.2.7:40000 logs in
// as bob (routed to bob@example.com) with the password "secret".
inline proxy::mail::MailboxLoginRequest login_request(const FakeUpstream& fake, std::string tag) {
  proxy::mail::MailboxLoginRequest r;
  r.login.tag = std::move(tag);
  r.login.user = "bob";
  r.login.password = "secret";
  r.route.host = "127.0.0.1";
  r.route.port = fake.port();
  r.route.user = "bob@example.com";
  r.client_ip = "192.0.2.7";
  r.client_port = 40000;
  r.local_ip = "127.0.0.1";
  r.timeout = std::chrono::seconds(5);
  return r;
}

// `login` (imap:: or pop3::login_at_mailbox) against `fake` on a plain
// connection, closed afterwards.
template <class Login>
proxy::mail::MailboxVerdict verdict_of(Login login, FakeUpstream& fake, proxy::mail::MailboxLoginRequest request) {
  proxy::mail::MailboxVerdict verdict;
  asio::io_context io;  // outlives the thread and its DeadlineSweeper
  on_own_thread([&] {
    auto body = [&]() -> asio::awaitable<void> {
      net::tcp::socket s(io);
      const net::tcp::endpoint at(asio::ip::make_address("127.0.0.1"), fake.port());
      co_await s.async_connect(at, asio::use_awaitable);
      auto run = login(s, request);
      verdict = co_await std::move(run);
    };
    asio::co_spawn(io, body(), rethrow);
    io.run_for(std::chrono::seconds(10));
  });
  return verdict;
}

}  // namespace zmproxy::test

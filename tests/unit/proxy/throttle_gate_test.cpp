// ThrottleGate over a real memcached (tests/support/memcached_process.hpp):
// when there is a gate at all, the checks as a session awaits them on its
// io_context, and the lock with its clearing success.

#include "lib/proxy/throttle_gate.hpp"

#include "lib/config/proxy_config.hpp"

#include "tests/support/memcached_process.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace zmproxy;
using proxy::LoginKind;
using proxy::ThrottleGate;
using throttle::Decision;
using throttle::MailProtocol;
using zmproxy::test::MemcachedProcess;
using zmproxy::test::raw_get;

namespace {

namespace asio = net::asio;

std::shared_ptr<const config::ProxyConfig> config_of(const std::string& toml) {
  auto cfg = config::parse_config(toml, "zmproxy.conf", "/tmp");
  REQUIRE(cfg);
  return *cfg;
}

std::shared_ptr<ThrottleGate> gate_of(const std::string& toml) {
  auto gate = ThrottleGate::create(*config_of(toml));
  REQUIRE(gate);
  REQUIRE(*gate);
  return *gate;
}

// Runs `check` (a coroutine of the gate) to its end on an io_context of its
// own, as a worker would.
Decision run(asio::awaitable<Decision> check) {
  asio::io_context io;
  Decision out;
  asio::co_spawn(io, std::move(check), [&out](std::exception_ptr e, Decision d) {
    if (e) {
      std::rethrow_exception(e);
    }
    out = d;
  });
  io.run();
  return out;
}

std::string with_memcached(const MemcachedProcess& mc, const std::string& throttle) {
  return "[route]\nmemcached = [\"" + mc.address() + "\"]\n[throttle]\n" + throttle;
}

}  // namespace

TEST_CASE("no gate without memcached or without anything to count", "[throttle][gate]") {
  auto none = ThrottleGate::create(*config_of("[throttle]\nip_limit = 5\n"));
  REQUIRE(none);
  CHECK(*none == nullptr);
  auto off = ThrottleGate::create(
      *config_of("[route]\nmemcached = [\"127.0.0.1:1\"]\n[throttle]\nfailed_logins = false\n"));
  REQUIRE(off);
  CHECK(*off == nullptr);
  // Failed logins are counted by default: a memcached is enough.
  auto on = ThrottleGate::create(*config_of("[route]\nmemcached = [\"127.0.0.1:1\"]\n"));
  REQUIRE(on);
  CHECK(*on != nullptr);
}

TEST_CASE("the gate counts connections per address in memcached, whitelist aside",
          "[throttle][gate]") {
  MemcachedProcess mc;
  auto gate = gate_of(
      with_memcached(mc, "ip_limit = 2\nip_window = 60\nwhitelist = [\"127.0.0.16/28\"]\n"));
  CHECK(run(gate->on_connection(MailProtocol::imap, "127.0.0.7")).allowed());
  CHECK(run(gate->on_connection(MailProtocol::imap, "127.0.0.7")).allowed());
  const Decision third = run(gate->on_connection(MailProtocol::imap, "127.0.0.7"));
  CHECK_FALSE(third.allowed());
  CHECK(third.reason == throttle::Reason::ip_limit);
  CHECK(raw_get(mc.port(), "throttle:proto=i,ip=127.0.0.7") == "3");
  for (int i = 0; i < 5; ++i) {
    CHECK(run(gate->on_connection(MailProtocol::imap, "127.0.0.20")).allowed());
  }
  CHECK(raw_get(mc.port(), "throttle:proto=i,ip=127.0.0.20") == std::nullopt);
  // Keys carry the address as Zimbra's nginx writes it.
  CHECK(run(gate->on_connection(MailProtocol::pop3, "2001:DB8:0:0::7")).allowed());
  CHECK(raw_get(mc.port(), "throttle:proto=p,ip=2001:db8::7") == "1");
}

TEST_CASE(
    "the gate: a pair seen failing waits, a lock counts each attempt first, a success forgives",
    "[throttle][gate]") {
  MemcachedProcess mc;
  auto gate =
      gate_of(with_memcached(mc, "failed_free = 1\nfailed_delay = \"100ms\"\nfailed_lock = 3\n"));
  const std::string key = "zmproxy:authfail:user=john@example.com,ip=127.0.0.7";
  const Decision none;
  // Names are counted lower-cased: "John" and "john" are one pair.
  run(gate->after_login_failure("John@Example.com", "127.0.0.7", none));
  CHECK(raw_get(mc.port(), key) == "1");
  // Seen failing here, under a lock: the attempt is counted before it goes on.
  const Decision second = run(gate->before_login(LoginKind::mail, "john@example.com", "127.0.0.7"));
  CHECK(second.allowed());
  CHECK(second.reserved);
  CHECK(second.failed_logins == 1);
  CHECK(second.delay.count() == 0);  // one free failure
  CHECK(raw_get(mc.port(), key) == "2");
  run(gate->after_login_failure("john@example.com", "127.0.0.7", second));
  CHECK(raw_get(mc.port(), key) == "2");  // not twice
  const Decision third = run(gate->before_login(LoginKind::web, "john@example.com", "127.0.0.7"));
  CHECK(third.delay.count() == 100);
  CHECK(raw_get(mc.port(), key) == "3");
  // Parallel attempts each see the others: the next one is refused already.
  const Decision fourth = run(gate->before_login(LoginKind::mail, "john@example.com", "127.0.0.7"));
  CHECK_FALSE(fourth.allowed());
  CHECK(fourth.reason == throttle::Reason::failed_logins);
  CHECK(fourth.retry_after == std::chrono::seconds(900));
  CHECK(run(gate->before_login(LoginKind::mail, "john@example.com", "127.0.0.8")).allowed());
  // The third attempt's owner got in: the pair is forgiven.
  CHECK(run(gate->after_login_success(LoginKind::web, "john@example.com", "127.0.0.7", third))
            .allowed());
  CHECK(raw_get(mc.port(), key) == std::nullopt);
  const Decision clean = run(gate->before_login(LoginKind::mail, "john@example.com", "127.0.0.7"));
  CHECK(clean.allowed());
  CHECK(clean.failed_logins == 0);
}

TEST_CASE("the gate: without a lock only a pair seen failing is read", "[throttle][gate]") {
  MemcachedProcess mc;
  auto gate = gate_of(with_memcached(mc, "failed_free = 0\nfailed_delay = \"50ms\"\n"));
  const std::string key = "zmproxy:authfail:user=jane@example.com,ip=127.0.0.7";
  // Failures counted by another proxy of the fleet: unknown here, not read.
  REQUIRE(zmproxy::test::raw_set(mc.port(), key, "2"));
  const Decision unseen = run(gate->before_login(LoginKind::mail, "jane@example.com", "127.0.0.7"));
  CHECK(unseen.failed_logins == 0);
  CHECK(unseen.delay.count() == 0);
  // Once it failed here, each attempt waits the fleet's count's tarpit.
  run(gate->after_login_failure("jane@example.com", "127.0.0.7", unseen));
  CHECK(raw_get(mc.port(), key) == "3");
  const Decision seen = run(gate->before_login(LoginKind::mail, "jane@example.com", "127.0.0.7"));
  CHECK_FALSE(seen.reserved);
  CHECK(seen.failed_logins == 3);
  CHECK(seen.delay.count() == 200);
}

TEST_CASE("the gate: the user limit counts mail logins, never web ones", "[throttle][gate]") {
  MemcachedProcess mc;
  auto gate = gate_of(with_memcached(mc, "user_limit = 1\n"));
  const Decision first = run(gate->before_login(LoginKind::mail, "jane@example.com", "127.0.0.7"));
  CHECK(run(gate->after_login_success(LoginKind::mail, "jane@example.com", "127.0.0.7", first))
            .allowed());
  for (int i = 0; i < 3; ++i) {
    const Decision web = run(gate->before_login(LoginKind::web, "jane@example.com", "127.0.0.7"));
    CHECK(web.allowed());
    CHECK(run(gate->after_login_success(LoginKind::web, "jane@example.com", "127.0.0.7", web))
              .allowed());
  }
  CHECK(raw_get(mc.port(), "throttle:user=jane@example.com") == "1");
  const Decision second = run(gate->before_login(LoginKind::mail, "jane@example.com", "127.0.0.7"));
  CHECK(second.allowed());  // 1 <= 1: read only, refused once counted
  CHECK_FALSE(
      run(gate->after_login_success(LoginKind::mail, "jane@example.com", "127.0.0.7", second))
          .allowed());
}

#include "lib/throttle/login_throttle.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace zmproxy::throttle;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// memcached as LoginThrottle sees it: fixed-window counters on a clock the
// test moves, and a switch that takes the whole store down.
class FakeStore final : public CounterStore {
 public:
  std::optional<std::uint64_t> incr(std::string_view key, seconds window) override {
    if (down) {
      return std::nullopt;
    }
    expire(key);
    auto [it, created] = m_entries.try_emplace(std::string(key), Entry{0, now + window});
    (void)created;
    return ++it->second.count;
  }
  std::optional<std::uint64_t> get(std::string_view key) override {
    if (down) {
      return std::nullopt;
    }
    expire(key);
    const auto it = m_entries.find(std::string(key));
    return it == m_entries.end() ? 0 : it->second.count;
  }
  bool remove(std::string_view key) override {
    if (down) {
      return false;
    }
    m_entries.erase(std::string(key));
    return true;
  }
  bool has(const std::string& key) const { return m_entries.count(key) != 0; }

  bool down = false;
  seconds now{0};

 private:
  struct Entry {
    std::uint64_t count;
    seconds expires_at;
  };
  void expire(std::string_view key) {
    const auto it = m_entries.find(std::string(key));
    if (it != m_entries.end() && it->second.expires_at <= now) {
      m_entries.erase(it);
    }
  }
  std::map<std::string, Entry> m_entries;
};

ThrottleSettings ip_limit_5() {
  ThrottleSettings s;
  s.ip = IpLimit{5, seconds{60}};
  return s;
}

}  // namespace

TEST_CASE("IP limit N: N connections in the window, the N+1th refused", "[throttle][login]") {
  FakeStore store;
  LoginThrottle throttle(ip_limit_5(), store);
  for (int i = 1; i <= 5; ++i) {
    const Decision d = throttle.on_connection(MailProtocol::imap, "127.0.0.7");
    CHECK(d.allowed());
    CHECK(d.count == static_cast<std::uint64_t>(i));
  }
  const Decision sixth = throttle.on_connection(MailProtocol::imap, "127.0.0.7");
  CHECK_FALSE(sixth.allowed());
  CHECK(sixth.reason == Reason::ip_limit);
  CHECK(sixth.count == 6);
  CHECK(sixth.limit == 5);
  CHECK(sixth.retry_after == seconds{60});
  CHECK(store.has("throttle:proto=i,ip=127.0.0.7"));

  SECTION("another address is not affected") {
    CHECK(throttle.on_connection(MailProtocol::imap, "127.0.0.8").allowed());
  }
  SECTION("POP3 has its own counter") {
    CHECK(throttle.on_connection(MailProtocol::pop3, "127.0.0.7").allowed());
  }
  SECTION("the window is fixed: after it the address starts again") {
    store.now = seconds{59};
    CHECK_FALSE(throttle.on_connection(MailProtocol::imap, "127.0.0.7").allowed());
    store.now = seconds{60};
    CHECK(throttle.on_connection(MailProtocol::imap, "127.0.0.7").allowed());
  }
  SECTION("clearing the key lifts the block") {
    CHECK(throttle.clear(ip_counter_key(MailProtocol::imap, "127.0.0.7")));
    CHECK(throttle.on_connection(MailProtocol::imap, "127.0.0.7").allowed());
  }
}

TEST_CASE("a limit of 0 is off and costs no store call", "[throttle][login]") {
  FakeStore store;
  store.down = true;  // any call would be noticed as an outage
  LoginThrottle throttle(ThrottleSettings{}, store);
  for (int i = 0; i < 100; ++i) {
    const Decision d = throttle.on_connection(MailProtocol::imap, "127.0.0.7");
    CHECK(d.allowed());
    CHECK(d.notice == StoreNotice::none);
  }
  CHECK(throttle.before_login("john@example.com", "127.0.0.7").notice == StoreNotice::none);
}

TEST_CASE("the per-protocol limit overrides the global one, with its own window", "[throttle][login]") {
  // The window goes with the limit that applies (Zimbra's newest module takes
  // the protocol's window even under the global limit).
  ThrottleSettings s;
  s.ip = IpLimit{1, seconds{60}};
  s.imap = IpLimit{3, seconds{120}};
  s.pop3 = IpLimit{0, seconds{30}};
  CHECK(ip_limit_for(s, MailProtocol::imap).limit == 3);
  CHECK(ip_limit_for(s, MailProtocol::imap).window == seconds{120});
  CHECK(ip_limit_for(s, MailProtocol::pop3).limit == 1);
  CHECK(ip_limit_for(s, MailProtocol::pop3).window == seconds{60});

  FakeStore store;
  LoginThrottle throttle(s, store);
  for (int i = 0; i < 3; ++i) {
    CHECK(throttle.on_connection(MailProtocol::imap, "192.0.2.1").allowed());
  }
  CHECK_FALSE(throttle.on_connection(MailProtocol::imap, "192.0.2.1").allowed());
  CHECK(throttle.on_connection(MailProtocol::pop3, "192.0.2.1").allowed());
  CHECK_FALSE(throttle.on_connection(MailProtocol::pop3, "192.0.2.1").allowed());
}

TEST_CASE("a whitelisted address is never throttled and never counted", "[throttle][login]") {
  ThrottleSettings s = ip_limit_5();
  auto list = IpWhitelist::build({"127.0.0.0/29", "2001:db8::/32"});
  REQUIRE(list);
  s.whitelist = std::move(*list);
  FakeStore store;
  LoginThrottle throttle(std::move(s), store);
  for (int i = 0; i < 50; ++i) {
    CHECK(throttle.on_connection(MailProtocol::imap, "127.0.0.7").allowed());
    CHECK(throttle.on_connection(MailProtocol::pop3, "2001:db8::9").allowed());
  }
  CHECK_FALSE(store.has("throttle:proto=i,ip=127.0.0.7"));
  for (int i = 0; i < 5; ++i) {
    CHECK(throttle.on_connection(MailProtocol::imap, "127.0.0.8").allowed());
  }
  CHECK_FALSE(throttle.on_connection(MailProtocol::imap, "127.0.0.8").allowed());
}

TEST_CASE("store down: every check allows, and the outage is noticed once", "[throttle][login]") {
  ThrottleSettings s = ip_limit_5();
  s.user_limit = 1;
  s.count_failed_logins = true;
  s.failed_lock_after = 1;
  FakeStore store;
  LoginThrottle throttle(std::move(s), store);
  store.down = true;

  const Decision first = throttle.on_connection(MailProtocol::imap, "127.0.0.7");
  CHECK(first.allowed());
  CHECK(first.notice == StoreNotice::throttling_off);
  for (int i = 0; i < 20; ++i) {
    const Decision d = throttle.on_connection(MailProtocol::imap, "127.0.0.7");
    CHECK(d.allowed());
    CHECK(d.notice == StoreNotice::none);
  }
  const Decision before = throttle.before_login("john@example.com", "127.0.0.7");
  CHECK(before.allowed());
  CHECK(before.delay == milliseconds{0});
  CHECK(throttle.after_login_failure("john@example.com", "127.0.0.7").notice == StoreNotice::none);
  CHECK(throttle.after_login_success("john@example.com", "127.0.0.7", before).allowed());

  store.down = false;
  const Decision back = throttle.on_connection(MailProtocol::imap, "127.0.0.7");
  CHECK(back.allowed());
  CHECK(back.notice == StoreNotice::throttling_on);
  CHECK(throttle.on_connection(MailProtocol::imap, "127.0.0.7").notice == StoreNotice::none);
}

TEST_CASE("user limit: checked before the login, counted after a success only", "[throttle][login]") {
  ThrottleSettings s;
  s.user_limit = 3;
  s.user_window = seconds{600};
  FakeStore store;
  LoginThrottle throttle(std::move(s), store);
  const std::string john = "john@example.com";

  // Failed logins never count against the user (Zimbra: only after the mailbox said OK).
  for (int i = 0; i < 10; ++i) {
    CHECK(throttle.before_login(john, "192.0.2.1").allowed());
    throttle.after_login_failure(john, "192.0.2.1");
  }
  CHECK_FALSE(store.has("throttle:user=john@example.com"));

  for (int i = 1; i <= 3; ++i) {
    const Decision before = throttle.before_login(john, "192.0.2.1");
    REQUIRE(before.allowed());
    const Decision after = throttle.after_login_success(john, "192.0.2.1", before);
    CHECK(after.allowed());
    CHECK(after.count == static_cast<std::uint64_t>(i));
  }
  // The 4th passes the read-only check (3 <= 3) and is refused once counted.
  const Decision fourth_before = throttle.before_login(john, "192.0.2.2");
  CHECK(fourth_before.allowed());
  const Decision fourth = throttle.after_login_success(john, "192.0.2.2", fourth_before);
  CHECK_FALSE(fourth.allowed());
  CHECK(fourth.reason == Reason::user_limit);
  CHECK(fourth.retry_after == seconds{600});
  // From then on the check before the login refuses.
  const Decision fifth = throttle.before_login(john, "192.0.2.3");
  CHECK_FALSE(fifth.allowed());
  CHECK(fifth.reason == Reason::user_limit);
  // Other users log in.
  CHECK(throttle.before_login("jane@example.com", "192.0.2.3").allowed());

  SECTION("clearing the user's key lifts it") {
    CHECK(throttle.clear(user_counter_key(john)));
    CHECK(throttle.before_login(john, "192.0.2.3").allowed());
  }
  SECTION("the window ends it") {
    store.now = seconds{600};
    CHECK(throttle.before_login(john, "192.0.2.3").allowed());
  }
}

TEST_CASE("failed logins per (user, address): the wait grows, is bounded, and is the pair's only",
          "[throttle][login]") {
  ThrottleSettings s;
  s.count_failed_logins = true;
  s.failed_window = seconds{900};
  s.tarpit = TarpitSettings{2, milliseconds{1000}, milliseconds{8000}};
  FakeStore store;
  LoginThrottle throttle(std::move(s), store);
  const std::string john = "john@example.com";

  // The caller suspects the pair once it failed (ThrottleGate's hints).
  std::vector<milliseconds> waits;
  for (int i = 0; i < 10; ++i) {
    const Decision before = throttle.before_login(john, "127.0.0.7", i > 0);
    CHECK(before.allowed());
    CHECK_FALSE(before.reserved);  // no lock: read, not counted ahead
    waits.push_back(before.delay);
    const Decision failed = throttle.after_login_failure(john, "127.0.0.7", before);
    CHECK(failed.failed_logins == static_cast<std::uint64_t>(i + 1));
  }
  // Before each attempt: two failures free, then doubling from 1 s up to the 8 s bound.
  CHECK(waits == std::vector<milliseconds>{
                     milliseconds{0}, milliseconds{0}, milliseconds{0}, milliseconds{1000},
                     milliseconds{2000}, milliseconds{4000}, milliseconds{8000}, milliseconds{8000},
                     milliseconds{8000}, milliseconds{8000}});
  const Decision tenth = throttle.before_login(john, "127.0.0.7", true);
  CHECK(tenth.delay == milliseconds{8000});
  CHECK(tenth.failed_logins == 10);
  CHECK(store.has("zmproxy:authfail:user=john@example.com,ip=127.0.0.7"));

  // The same user from another address, and another user from this one: at once.
  CHECK(throttle.before_login(john, "127.0.0.8", true).delay == milliseconds{0});
  CHECK(throttle.before_login("jane@example.com", "127.0.0.7", true).delay == milliseconds{0});
  // A pair the caller does not suspect is not read (no lock): no wait, no cost.
  CHECK(throttle.before_login(john, "127.0.0.7", false).delay == milliseconds{0});
  // Zimbra's keys are untouched by our counter.
  CHECK_FALSE(store.has("throttle:user=john@example.com"));

  SECTION("clearing the pair's key lifts the wait") {
    CHECK(throttle.clear(failed_login_key(john, "127.0.0.7")));
    CHECK(throttle.before_login(john, "127.0.0.7", true).delay == milliseconds{0});
  }
  SECTION("a success of the pair clears its failures") {
    CHECK(throttle.after_login_success(john, "127.0.0.7", tenth).allowed());
    CHECK_FALSE(store.has("zmproxy:authfail:user=john@example.com,ip=127.0.0.7"));
  }
}

TEST_CASE("without a lock a clean login reads nothing of the pair", "[throttle][login]") {
  ThrottleSettings s;
  s.count_failed_logins = true;
  FakeStore store;
  store.down = true;  // any call would be noticed as an outage
  LoginThrottle throttle(std::move(s), store);
  const Decision before = throttle.before_login("john@example.com", "127.0.0.7");
  CHECK(before.allowed());
  CHECK(before.notice == StoreNotice::none);
  CHECK(throttle.after_login_success("john@example.com", "127.0.0.7", before).notice ==
        StoreNotice::none);
}

TEST_CASE("failed logins with a lock: refused from failed_lock_after on", "[throttle][login]") {
  ThrottleSettings s;
  s.count_failed_logins = true;
  s.failed_window = seconds{300};
  s.failed_lock_after = 3;
  FakeStore store;
  LoginThrottle throttle(std::move(s), store);
  for (int i = 0; i < 3; ++i) {
    const Decision before = throttle.before_login("john@example.com", "127.0.0.7", i > 0);
    CHECK(before.allowed());
    throttle.after_login_failure("john@example.com", "127.0.0.7", before);
  }
  const Decision locked = throttle.before_login("john@example.com", "127.0.0.7");
  CHECK_FALSE(locked.allowed());
  CHECK(locked.reason == Reason::failed_logins);
  CHECK(locked.retry_after == seconds{300});
  CHECK(throttle.before_login("john@example.com", "127.0.0.8").allowed());

  SECTION("a success of the pair below the lock clears its failures") {
    CHECK(throttle.clear(failed_login_key("john@example.com", "127.0.0.7")));
    throttle.after_login_failure("john@example.com", "127.0.0.7");
    const Decision before = throttle.before_login("john@example.com", "127.0.0.7");
    CHECK(before.failed_logins == 1);
    CHECK(throttle.after_login_success("john@example.com", "127.0.0.7", before).allowed());
    CHECK_FALSE(store.has("zmproxy:authfail:user=john@example.com,ip=127.0.0.7"));
  }
}

TEST_CASE(
    "a suspected pair under a lock is counted before each attempt: parallel ones see each other",
    "[throttle][login]") {
  ThrottleSettings s;
  s.count_failed_logins = true;
  s.failed_lock_after = 3;
  FakeStore store;
  LoginThrottle throttle(std::move(s), store);
  throttle.after_login_failure("john@example.com", "127.0.0.7");
  // Three attempts start together, before any of them is refused by the mailbox.
  const Decision a = throttle.before_login("john@example.com", "127.0.0.7", true);
  const Decision b = throttle.before_login("john@example.com", "127.0.0.7", true);
  const Decision c = throttle.before_login("john@example.com", "127.0.0.7", true);
  CHECK(a.allowed());
  CHECK(a.reserved);
  CHECK(b.allowed());
  CHECK_FALSE(c.allowed());  // 1 failure + 2 attempts under way: the lock is reached
  // Their failures are not counted twice.
  CHECK(throttle.after_login_failure("john@example.com", "127.0.0.7", a).failed_logins == 2);
  CHECK(throttle.before_login("john@example.com", "127.0.0.7").count == 4);
}

TEST_CASE("failed-login counting off: no zmproxy: key is ever written", "[throttle][login]") {
  FakeStore store;
  LoginThrottle throttle(ThrottleSettings{}, store);
  for (int i = 0; i < 5; ++i) {
    CHECK(throttle.after_login_failure("john@example.com", "127.0.0.7").notice == StoreNotice::none);
  }
  CHECK_FALSE(store.has("zmproxy:authfail:user=john@example.com,ip=127.0.0.7"));
}

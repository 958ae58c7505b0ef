#include "lib/proxy/upstream_health.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using zmproxy::proxy::UpstreamHealth;
using namespace std::chrono_literals;

namespace {

using Change = UpstreamHealth::Change;
using Groups = std::vector<std::vector<std::string>>;

// A fake clock: time points from an arbitrary origin.
struct FakeClock {
  UpstreamHealth::Clock::time_point now{std::chrono::hours(1000)};
  void advance(std::chrono::milliseconds d) { now += d; }
};

const Groups k_two = {{"mbox1.example.com:8080", "mbox2.example.com:8080"}};

}  // namespace

TEST_CASE("health: only addresses of groups of two or more are tracked, case and form ignored",
          "[proxy][health]") {
  const UpstreamHealth h({{"Mbox1.Example.com:8080", "[::1]:8080"}, {"admin.example.com:7071"}},
                         {});
  CHECK(h.size() == 2);
  CHECK(h.find("mbox1.example.com:8080") != UpstreamHealth::k_untracked);
  CHECK(h.find("MBOX1.example.com:8080") != UpstreamHealth::k_untracked);
  CHECK(h.find("[::1]:8080") != UpstreamHealth::k_untracked);
  CHECK(h.find("mbox1.example.com:8081") == UpstreamHealth::k_untracked);
  CHECK(h.find("admin.example.com:7071") == UpstreamHealth::k_untracked);  // a group of one
  // The same address in two groups is one record.
  CHECK(UpstreamHealth({{"a:1", "b:2"}, {"a:1", "c:3"}}, {}).size() == 3);
}

TEST_CASE(
    "health: max_fails 1: one failure leaves it out for fail_timeout, then one request tries it",
    "[proxy][health]") {
  FakeClock clock;
  UpstreamHealth h(k_two, {1, 10s});
  const std::size_t a = h.find("mbox1.example.com:8080");
  const std::size_t b = h.find("mbox2.example.com:8080");
  CHECK(h.try_use(a, clock.now));
  CHECK(h.failed(a, clock.now) == Change::down);
  CHECK(h.is_down(a, clock.now));
  CHECK_FALSE(h.try_use(a, clock.now));
  CHECK(h.try_use(b, clock.now));  // the other one is untouched
  clock.advance(10s);
  CHECK_FALSE(h.try_use(a, clock.now));  // still within fail_timeout
  clock.advance(1ms);
  CHECK(h.try_use(a, clock.now));        // the trial
  CHECK_FALSE(h.try_use(a, clock.now));  // only one request tries it
  SECTION("the trial succeeds: back") {
    CHECK(h.succeeded(a) == Change::up);
    CHECK_FALSE(h.is_down(a, clock.now));
    CHECK(h.try_use(a, clock.now));
    CHECK(h.try_use(a, clock.now));
  }
  SECTION("the trial fails: down again at once, for another fail_timeout") {
    clock.advance(2s);
    CHECK(h.failed(a, clock.now) == Change::none);  // it was down already: logged once
    CHECK_FALSE(h.try_use(a, clock.now));
    clock.advance(10s);
    CHECK_FALSE(h.try_use(a, clock.now));
    clock.advance(1ms);
    CHECK(h.try_use(a, clock.now));
  }
  SECTION("the trial hangs: the next request tries after another fail_timeout") {
    clock.advance(10s + 1ms);
    CHECK(h.try_use(a, clock.now));
  }
}

TEST_CASE("health: max_fails 3 counts failures within fail_timeout of each other",
          "[proxy][health]") {
  FakeClock clock;
  UpstreamHealth h(k_two, {3, 10s});
  const std::size_t a = h.find("mbox1.example.com:8080");
  CHECK(h.failed(a, clock.now) == Change::none);
  clock.advance(5s);
  CHECK(h.failed(a, clock.now) == Change::none);
  CHECK(h.try_use(a, clock.now));  // two of three: still used
  // An answer to a request chosen inside the window clears nothing (nginx).
  CHECK(h.succeeded(a) == Change::none);
  clock.advance(5s);
  CHECK(h.failed(a, clock.now) == Change::down);
  CHECK_FALSE(h.try_use(a, clock.now));

  SECTION("a failure long after the previous one starts the count again") {
    UpstreamHealth g(k_two, {3, 10s});
    const std::size_t x = g.find("mbox1.example.com:8080");
    CHECK(g.failed(x, clock.now) == Change::none);
    clock.advance(5s);
    CHECK(g.failed(x, clock.now) == Change::none);
    clock.advance(11s);
    CHECK(g.failed(x, clock.now) == Change::none);  // 1 again, not 3
    CHECK(g.try_use(x, clock.now));
    clock.advance(1s);
    CHECK(g.failed(x, clock.now) == Change::none);  // 2
    CHECK(g.failed(x, clock.now) == Change::down);  // 3
  }
  SECTION("a success of a request chosen after the window clears the count") {
    UpstreamHealth g(k_two, {3, 10s});
    const std::size_t x = g.find("mbox1.example.com:8080");
    CHECK(g.failed(x, clock.now) == Change::none);
    CHECK(g.failed(x, clock.now) == Change::none);
    clock.advance(10s + 1ms);
    CHECK(g.try_use(x, clock.now));
    CHECK(g.succeeded(x) == Change::none);  // it was never down
    CHECK(g.failed(x, clock.now) == Change::none);
    CHECK(g.failed(x, clock.now) == Change::none);
    CHECK(g.try_use(x, clock.now));  // 2 of 3, not 4
  }
}

TEST_CASE("health: max_fails 0 or fail_timeout 0 is never down, an untracked address always usable",
          "[proxy][health]") {
  FakeClock clock;
  for (const UpstreamHealth::Settings s :
       {UpstreamHealth::Settings{0, 10s}, UpstreamHealth::Settings{1, 0s}}) {
    UpstreamHealth h(k_two, s);
    const std::size_t a = h.find("mbox1.example.com:8080");
    for (int i = 0; i < 10; ++i) {
      CHECK(h.failed(a, clock.now) == Change::none);
    }
    CHECK(h.try_use(a, clock.now));
    CHECK_FALSE(h.is_down(a, clock.now));
  }
  UpstreamHealth h(k_two, {1, 10s});
  CHECK(h.failed(UpstreamHealth::k_untracked, clock.now) == Change::none);
  CHECK(h.try_use(UpstreamHealth::k_untracked, clock.now));
}

TEST_CASE("health: a reload keeps the table, or the state of every surviving address",
          "[proxy][health]") {
  FakeClock clock;
  auto first = UpstreamHealth::carried_over(k_two, {1, 10s}, nullptr);
  const std::size_t a = first->find("mbox1.example.com:8080");
  REQUIRE(first->failed(a, clock.now) == Change::down);
  // Same addresses, same settings: the same table.
  CHECK(UpstreamHealth::carried_over(k_two, {1, 10s}, first) == first);
  // A third server added: a new table, mbox1 still down in it, the new one up.
  const Groups three = {
      {"mbox1.example.com:8080", "mbox2.example.com:8080", "mbox3.example.com:8080"}};
  auto second = UpstreamHealth::carried_over(three, {1, 10s}, first);
  CHECK(second != first);
  CHECK(second->is_down(second->find("mbox1.example.com:8080"), clock.now));
  CHECK_FALSE(second->try_use(second->find("mbox1.example.com:8080"), clock.now));
  CHECK(second->try_use(second->find("mbox3.example.com:8080"), clock.now));
  // New settings: a new table with the state kept.
  auto third = UpstreamHealth::carried_over(three, {2, 10s}, second);
  CHECK(third != second);
  CHECK(third->is_down(third->find("mbox1.example.com:8080"), clock.now) == false);  // 1 of 2 now
  CHECK(third->failed(third->find("mbox1.example.com:8080"), clock.now) == Change::down);
}

TEST_CASE("health: STATUS's view: the upstreams down, the time until their trial, the times left out",
          "[proxy][health]") {
  FakeClock clock;
  auto h = UpstreamHealth::carried_over(k_two, {2, 10s}, nullptr);
  const std::size_t a = h->find("mbox1.example.com:8080");
  const std::size_t b = h->find("mbox2.example.com:8080");
  CHECK(h->down(clock.now).empty());
  CHECK(h->failed(b, clock.now) == Change::none);  // 1 of 2: not down, not listed
  CHECK(h->down(clock.now).empty());
  CHECK(h->marked_down() == 0);
  REQUIRE(h->failed(b, clock.now) == Change::down);
  clock.advance(4s);
  REQUIRE(h->failed(a, clock.now) == Change::none);
  REQUIRE(h->failed(a, clock.now) == Change::down);
  clock.advance(1500ms);
  auto down = h->down(clock.now);
  REQUIRE(down.size() == 2);
  CHECK(down[0].address == "mbox1.example.com:8080");
  CHECK(down[0].retry_in == 8500ms);
  CHECK(down[1].address == "mbox2.example.com:8080");
  CHECK(down[1].retry_in == 4500ms);
  CHECK(h->marked_down() == 2);
  // A failed trial keeps it out for another fail_timeout: listed, not counted again.
  clock.advance(4500ms + 1ms);
  REQUIRE(h->try_use(b, clock.now));
  REQUIRE(h->failed(b, clock.now) == Change::none);
  down = h->down(clock.now);
  REQUIRE(down.size() == 2);
  CHECK(down[1].retry_in == 10s);
  CHECK(h->marked_down() == 2);
  // Its window over: no longer listed (the next request tries it).
  clock.advance(10s + 1ms);
  CHECK(h->down(clock.now).empty());
  // A reload that makes a new table keeps the count.
  const Groups three = {
      {"mbox1.example.com:8080", "mbox2.example.com:8080", "mbox3.example.com:8080"}};
  auto next = UpstreamHealth::carried_over(three, {2, 10s}, h);
  REQUIRE(next != h);
  CHECK(next->marked_down() == 2);
  // Not tracking (max_fails 0): nothing listed.
  UpstreamHealth off(k_two, {0, 10s});
  CHECK(off.down(clock.now).empty());
}

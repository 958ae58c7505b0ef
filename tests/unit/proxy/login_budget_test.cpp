#include "lib/proxy/mail/login_budget.hpp"

#include <catch2/catch.hpp>

using zmproxy::proxy::mail::LoginBudget;
using namespace std::chrono_literals;

TEST_CASE("a read before login waits the idle timeout or what is left of the total", "[parser]") {
  const auto t0 = LoginBudget::Clock::time_point{} + 1h;
  const LoginBudget b(60s, 120s, t0);
  CHECK(b.wait(t0) == 60s);
  CHECK(b.wait(t0 + 30s) == 60s);
  CHECK(b.wait(t0 + 100s) == 20s);
  CHECK_FALSE(b.expired(t0 + 119s));
  // A trickling client: each read is short, the total is not reset.
  CHECK(b.wait(t0 + 120s) == 1ms);
  CHECK(b.expired(t0 + 120s));
  CHECK(b.wait(t0 + 500s) == 1ms);
}

TEST_CASE("commands before login are capped", "[parser]") {
  LoginBudget b(60s, 120s, LoginBudget::Clock::time_point{});
  for (int i = 0; i < LoginBudget::k_max_commands; ++i) {
    REQUIRE(b.take_command());
  }
  CHECK_FALSE(b.take_command());
  CHECK_FALSE(b.take_command());
}

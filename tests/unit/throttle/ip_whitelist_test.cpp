#include "lib/throttle/ip_whitelist.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace zmproxy::throttle;

TEST_CASE("the whitelist holds addresses and CIDR blocks, v4 and v6", "[throttle][whitelist]") {
  const auto list = IpWhitelist::build({"192.0.2.0/24", "198.51.100.7", "2001:db8::/32 ::1"});
  REQUIRE(list);
  CHECK(list->contains("192.0.2.1"));
  CHECK(list->contains("192.0.2.255"));
  CHECK_FALSE(list->contains("192.0.3.1"));
  CHECK(list->contains("198.51.100.7"));
  CHECK_FALSE(list->contains("198.51.100.8"));
  CHECK(list->contains("2001:db8:1::5"));
  CHECK_FALSE(list->contains("2001:db9::5"));
  CHECK(list->contains("::1"));
  CHECK_FALSE(list->contains("::2"));
}

TEST_CASE("a dual-stack listener's mapped IPv4 client matches IPv4 blocks", "[throttle][whitelist]") {
  const auto list = IpWhitelist::build({"192.0.2.0/24"});
  REQUIRE(list);
  CHECK(list->contains("::ffff:192.0.2.9"));
  CHECK_FALSE(list->contains("::ffff:192.0.3.9"));
}

TEST_CASE("what is not an address is never whitelisted", "[throttle][whitelist]") {
  const auto list = IpWhitelist::build({"0.0.0.0/0", "::/0"});
  REQUIRE(list);
  CHECK(list->contains("203.0.113.1"));
  CHECK_FALSE(list->contains(""));
  CHECK_FALSE(list->contains("mail.example.com"));
  CHECK_FALSE(list->contains("10.0.0.0/8"));
  CHECK_FALSE(IpWhitelist{}.contains("127.0.0.1"));
}

TEST_CASE("a bad whitelist entry is an error naming it", "[throttle][whitelist]") {
  const auto bad = IpWhitelist::build({"192.0.2.0/24", "192.0.2.0/33"});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("'192.0.2.0/33'") != std::string::npos);
  CHECK(bad.error().message.find("zimbraReverseProxyIPThrottleWhitelist") != std::string::npos);
}

TEST_CASE("the whitelist is bounded", "[throttle][whitelist]") {
  std::vector<std::string> many(IpWhitelist::k_max_entries + 1, "192.0.2.1");
  CHECK_FALSE(IpWhitelist::build(many));
  many.pop_back();
  CHECK(IpWhitelist::build(many));
}

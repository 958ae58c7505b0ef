#include "lib/net/address_block.hpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>

using namespace zmproxy::net;

TEST_CASE("address blocks: addresses and CIDRs, v4 and v6, nothing else", "[net][address_block]") {
  for (const char* ok :
       {"192.0.2.7", "192.0.2.0/24", "0.0.0.0/0", "::1", "2001:db8::/32", "::/0", "10.0.0.0/32"}) {
    CHECK(parse_address_block(ok));
  }
  for (const char* bad :
       {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/8x", "10.0.0.0/-1", "10.0.0.0/ 8",
        " 10.0.0.1", "mail.example.com", "10.0.0", "10.0.0.0/8/8"}) {
    CHECK_FALSE(parse_address_block(bad));
  }
  const auto v4 = parse_address_block("192.0.2.0/24");
  REQUIRE(v4);
  CHECK(v4->family == AF_INET);
  CHECK(v4->bits == 24);
}

TEST_CASE("address blocks: what a block contains", "[net][address_block]") {
  const auto in = [](const char* block, const char* address) {
    return block_contains(*parse_address_block(block), *parse_address_block(address));
  };
  CHECK(in("10.0.0.0/8", "10.200.3.4"));
  CHECK_FALSE(in("10.0.0.0/8", "11.0.0.1"));
  CHECK(in("192.0.2.128/25", "192.0.2.255"));
  CHECK_FALSE(in("192.0.2.128/25", "192.0.2.127"));
  CHECK(in("0.0.0.0/0", "203.0.113.9"));
  CHECK(in("127.0.0.5", "127.0.0.5"));
  CHECK_FALSE(in("127.0.0.5", "127.0.0.6"));
  CHECK(in("2001:db8::/32", "2001:db8:1::5"));
  CHECK_FALSE(in("2001:db8::/32", "2001:db9::5"));
  CHECK_FALSE(in("0.0.0.0/0", "::1"));  // families never mix
  CHECK_FALSE(in("::/0", "127.0.0.1"));
}

TEST_CASE("the trusted-proxies list", "[net][address_block]") {
  CHECK(split_address_list("").empty());
  CHECK(split_address_list(" 10.0.0.0/8, 192.0.2.1 ::1,,2001:db8::/32 ") ==
        std::vector<std::string>{"10.0.0.0/8", "192.0.2.1", "::1", "2001:db8::/32"});
  for (const char* ok :
       {"10.0.0.0/8", "192.0.2.1", "::1", "2001:db8::/32", "0.0.0.0/0", "::/0", "1.2.3.4/32"}) {
    CHECK(is_address_or_cidr(ok));
  }
  for (const char* bad : {"", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0/8", "example.com",
                          "10.0.0.0/8x", "10.0.0.0/-1"}) {
    CHECK_FALSE(is_address_or_cidr(bad));
  }
}

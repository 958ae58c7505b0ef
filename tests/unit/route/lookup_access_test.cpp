#include "lib/route/lookup_access.hpp"

#include <catch2/catch.hpp>

using zmproxy::route::check_listen_policy;

TEST_CASE("zmlookupd listens beyond loopback only with a caller secret", "[route][lookup]") {
  for (const char* loopback :
       {"127.0.0.1:7072", "127.5.6.7:0", "[::1]:7072", "[::ffff:127.0.0.1]:1"}) {
    CHECK(check_listen_policy(loopback, false));
  }
  for (const char* open : {"0.0.0.0:7072", "[::]:7072", "192.0.2.10:7072", ":7072"}) {
    const auto r = check_listen_policy(open, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("zmlookupd_secret") != std::string::npos);
    CHECK(r.error().message.find('\n') == std::string::npos);
    CHECK(check_listen_policy(open, true));
  }
  CHECK_FALSE(check_listen_policy("not-an-address:1", true));
}

TEST_CASE("listen addresses are IP addresses with a port, 7072 by default", "[route][lookup]") {
  using zmproxy::route::parse_listen;
  const auto v4 = parse_listen("127.0.0.1");
  REQUIRE(v4);
  CHECK(v4->port() == 7072);
  const auto any = parse_listen(":0");
  REQUIRE(any);
  CHECK(any->address().to_string() == "0.0.0.0");
  CHECK(any->port() == 0);
  const auto v6 = parse_listen("[::1]:7073");
  REQUIRE(v6);
  CHECK(v6->address().to_string() == "::1");
  CHECK(v6->port() == 7073);
  const auto name = parse_listen("localhost:7072");
  REQUIRE_FALSE(name);
  CHECK(name.error().message.find("use an IP address and port") != std::string::npos);
  CHECK_FALSE(parse_listen("127.0.0.1:7072x"));
  CHECK_FALSE(parse_listen("127.0.0.1:70000"));
}

TEST_CASE("callers are allowed by address or CIDR, IPv4-mapped as IPv4", "[route][lookup]") {
  using zmproxy::route::peer_allowed;
  namespace ip = zmproxy::net::asio::ip;
  const std::vector<std::string> allowed = {"192.0.2.0/24", "2001:db8::1"};
  CHECK(peer_allowed(ip::make_address("192.0.2.7"), allowed));
  CHECK(peer_allowed(ip::make_address("::ffff:192.0.2.7"), allowed));
  CHECK(peer_allowed(ip::make_address("2001:db8::1"), allowed));
  CHECK_FALSE(peer_allowed(ip::make_address("198.51.100.1"), allowed));
  CHECK_FALSE(peer_allowed(ip::make_address("::ffff:198.51.100.1"), allowed));
  CHECK_FALSE(peer_allowed(ip::make_address("2001:db8::2"), allowed));
  CHECK(peer_allowed(ip::make_address("198.51.100.1"), {}));  // no list: anyone
}

TEST_CASE("the caller secret must match exactly", "[route][lookup]") {
  using zmproxy::route::same_secret;
  CHECK(same_secret("s3cr3t", "s3cr3t"));
  CHECK_FALSE(same_secret("s3cr3", "s3cr3t"));
  CHECK_FALSE(same_secret("s3cr3t!", "s3cr3t"));
  CHECK_FALSE(same_secret("S3CR3T", "s3cr3t"));
  CHECK_FALSE(same_secret("", "s3cr3t"));
  CHECK(same_secret("", ""));
}

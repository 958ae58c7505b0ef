#include "lib/route/cached_route.hpp"

#include "lib/route/route_seal.hpp"

#include <catch2/catch.hpp>

using zmproxy::route::format_route_value;
using zmproxy::route::parse_route_value;

TEST_CASE("route values are IP:port or [v6]:port and read back", "[route][address]") {
  CHECK(format_route_value("10.0.0.1", 7143) == "10.0.0.1:7143");
  CHECK(format_route_value("::1", 7143) == "[::1]:7143");
  for (const char* text : {"10.0.0.1:7143", "[::1]:7143", "mbox1.example.com:8080"}) {
    INFO(text);
    std::string host;
    int port = 0;
    REQUIRE(parse_route_value(text, host, port));
    CHECK(format_route_value(host, port) == text);
  }
  // An unbracketed IPv6 address is ambiguous ("2001:db8::1:7143" may be an
  // address without a port): refused, so the route is looked up again.
  for (const char* bad : {"", ":7143", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:65536", "::1:7143",
                          "[::1]", "[::1]:x", "10.0.0.1:7143\n"}) {
    INFO(bad);
    std::string host;
    int port = 0;
    CHECK_FALSE(parse_route_value(bad, host, port));
  }
}

namespace {

using namespace zmproxy::route;

const std::string k_key = "route:proto=imap;user=john@example.com";

KnownServers known() {
  auto k = KnownServers::build({"10.0.0.7:7143", "[2001:db8::7]:7143"}, nullptr);
  REQUIRE(k);
  return std::move(*k);
}

}  // namespace

TEST_CASE("routes to known servers are stored plain, others sealed or not at all", "[route]") {
  const KnownServers k = known();
  CHECK(stored_route_value(k_key, "10.0.0.7", 7143, k, "") == "10.0.0.7:7143");
  CHECK(stored_route_value(k_key, "10.0.0.7", 7143, k, "s3cret") == "10.0.0.7:7143");
  CHECK(stored_route_value(k_key, "2001:db8::7", 7143, k, "") == "[2001:db8::7]:7143");
  CHECK_FALSE(stored_route_value(k_key, "10.0.0.8", 7143, k, ""));
  CHECK_FALSE(stored_route_value(k_key, "10.0.0.7", 993, k, ""));
  const auto sealed = stored_route_value(k_key, "partner.example", 143, k, "s3cret");
  REQUIRE(sealed);
  CHECK(*sealed == seal_route_value(k_key, "partner.example:143", "s3cret"));
}

TEST_CASE("cached routes are believed for a known server or a seal that verifies", "[route]") {
  const KnownServers k = known();
  auto plain = read_cached_route(k_key, "10.0.0.7:7143", k, "");
  CHECK(plain.believed());
  CHECK(plain.host == "10.0.0.7");
  CHECK(plain.port == 7143);
  CHECK(read_cached_route(k_key, "[2001:db8::7]:7143", k, "").believed());

  const std::string sealed = seal_route_value(k_key, "partner.example:143", "s3cret");
  auto verified = read_cached_route(k_key, sealed, k, "s3cret");
  CHECK(verified.believed());
  CHECK(verified.host == "partner.example");
  CHECK(verified.port == 143);

  auto why = [&](std::string_view key, std::string_view stored, std::string_view secret) {
    const auto r = read_cached_route(key, stored, k, secret);
    return r.believed() ? std::string("believed") : std::string(r.rejected);
  };
  CHECK(why(k_key, "10.0.0.8:7143", "s3cret") ==
        "it names no known mailbox server (route.mailbox_servers)");
  CHECK(why(k_key, sealed, "other") == "its HMAC does not verify with the route secret");
  CHECK(why(k_key, sealed, "") == "its HMAC does not verify with the route secret");
  CHECK(why("route:proto=imap;user=mary@example.com", sealed, "s3cret") ==
        "its HMAC does not verify with the route secret");
  // A seal that does not verify is refused, even on a known server's route.
  CHECK(why(k_key, "10.0.0.7:7143;hmac=00", "s3cret") ==
        "its HMAC does not verify with the route secret");
  CHECK(why(k_key, "not a route", "") == "it is not host:port");
  CHECK(why(k_key, "2001:db8::7:7143", "") == "it is not host:port");
}

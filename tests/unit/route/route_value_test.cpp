#include "lib/route/route_resolver.hpp"

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

#include "lib/route/known_servers.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy::route;

namespace {

std::vector<std::string> fake_dns(const std::string& host) {
  if (host == "mbox1.example.com") {
    return {"10.0.0.7", "2001:db8::7"};
  }
  return {};
}

}  // namespace

TEST_CASE("known servers match host and port, names and their addresses", "[route]") {
  auto known = KnownServers::build({"mbox1.example.com:7143", "MBOX1.example.com:7993",
                                    "[2001:DB8:0::8]:7110", "10.0.0.9:8080"},
                                   fake_dns);
  REQUIRE(known);
  CHECK(known->contains("mbox1.example.com", 7143));
  CHECK(known->contains("Mbox1.Example.Com", 7993));
  CHECK(known->contains("10.0.0.7", 7143));       // the name's address
  CHECK(known->contains("2001:db8::7", 7993));
  CHECK(known->contains("2001:db8::8", 7110));    // canonical v6 form
  CHECK(known->contains("2001:0db8:0:0::8", 7110));
  CHECK(known->contains("10.0.0.9", 8080));
  CHECK_FALSE(known->contains("10.0.0.7", 25));    // a known host, another port
  CHECK_FALSE(known->contains("10.0.0.9", 7143));  // ports belong to their host
  CHECK_FALSE(known->contains("127.0.0.9", 7143));
  CHECK_FALSE(known->contains("evil.example.com", 7143));
}

TEST_CASE("known server entries that are not host:port are refused, naming them", "[route]") {
  for (const char* bad : {"mbox1", "mbox1:", ":7143", "mbox1:0", "mbox1:70000", "2001:db8::1:7143",
                          "mbox1:71x"}) {
    auto known = KnownServers::build({bad}, fake_dns);
    REQUIRE_FALSE(known);
    CHECK_THAT(known.error().message, Catch::Contains(bad));
  }
  CHECK(KnownServers::build({}, fake_dns)->empty());
}

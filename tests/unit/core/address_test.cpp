#include "lib/core/address.hpp"

#include <catch2/catch.hpp>

#include <string>

using zmproxy::core::Address;
using zmproxy::core::AddressRules;
using zmproxy::core::format_address;
using zmproxy::core::format_host;
using zmproxy::core::is_ipv6_literal;
using zmproxy::core::parse_address;

namespace {
const AddressRules k_default_80{80};
}

TEST_CASE("addresses parse in every accepted form", "[core][address]") {
  CHECK(*parse_address("mail.example.com", k_default_80) == Address{"mail.example.com", 80});
  CHECK(*parse_address("mail.example.com:8080", k_default_80) == Address{"mail.example.com", 8080});
  CHECK(*parse_address("127.0.0.1:7072") == Address{"127.0.0.1", 7072});
  CHECK(*parse_address("[::1]", k_default_80) == Address{"::1", 80});
  CHECK(*parse_address("[::1]:8080") == Address{"::1", 8080});
  CHECK(*parse_address("[2001:db8::1]:443") == Address{"2001:db8::1", 443});
  CHECK(*parse_address("[fe80::1%eth0]:443") == Address{"fe80::1%eth0", 443});
  CHECK(*parse_address("[::ffff:127.0.0.1]:1") == Address{"::ffff:127.0.0.1", 1});
  CHECK(*parse_address("host:65535") == Address{"host", 65535});
}

TEST_CASE("a bare IPv6 address is a host without a port", "[core][address]") {
  CHECK(*parse_address("::1", k_default_80) == Address{"::1", 80});
  CHECK(*parse_address("2001:db8::8:800:200c:417a", k_default_80) ==
        Address{"2001:db8::8:800:200c:417a", 80});
  CHECK(*parse_address("1:2:3:4:5:6:7:8", k_default_80) == Address{"1:2:3:4:5:6:7:8", 80});
  // Without a default port it needs its brackets to carry one.
  const auto r = parse_address("::1");
  REQUIRE_FALSE(r);
  CHECK(r.error.find("[addr]:port") != std::string::npos);
}

TEST_CASE("hostile addresses are refused with one line naming the text", "[core][address]") {
  for (const std::string& bad : {std::string(""),
                                 std::string(":"),
                                 std::string("[::1"),
                                 std::string("host:99999"),
                                 std::string("host:-1"),
                                 std::string("a:b:c"),
                                 std::string("host :80"),
                                 std::string(" host:80"),
                                 std::string("host:80 "),
                                 std::string("ho st"),
                                 std::string("host\0x:80", 9),
                                 std::string("host:8\0", 7),
                                 std::string("host:"),
                                 std::string(":80"),
                                 std::string("host:0"),
                                 std::string("host:+80"),
                                 std::string("host:0x50"),
                                 std::string("host:000080"),
                                 std::string("[]:80"),
                                 std::string("[host]:80"),
                                 std::string("[::1]80"),
                                 std::string("[::1]:"),
                                 std::string("[::1]:80:90"),
                                 std::string("1:2:3:4:5:6:7:8:9"),
                                 std::string(":::"),
                                 std::string("1::2::3"),
                                 std::string("::1:"),
                                 std::string("[fe80::1%]:80"),
                                 std::string("[::1.2.3.256]:80"),
                                 std::string("12345::1"),
                                 std::string("host:80/path"),
                                 std::string("h\xc3\xa9:80")}) {
    INFO(bad);
    const auto r = parse_address(bad, k_default_80);
    CHECK_FALSE(r);
    CHECK(r.error.find('\n') == std::string::npos);
    CHECK(r.error.find('\0') == std::string::npos);
    CHECK(r.error.find("is not an address") != std::string::npos);
    CHECK(r.error.find("[IPv6]:port") != std::string::npos);
  }
}

TEST_CASE("an error names the text, with control bytes escaped", "[core][address]") {
  const auto r = parse_address(std::string("host\0:80", 8));
  REQUIRE_FALSE(r);
  CHECK(r.error.starts_with("'host\\x00:80' is not an address"));
  CHECK(parse_address("host:99999").error.find("out of range") != std::string::npos);
  CHECK(parse_address("host").error.find("no port") != std::string::npos);
}

TEST_CASE("listener rules allow port 0 and an empty host", "[core][address]") {
  const AddressRules listen{7072, true, true};
  CHECK(*parse_address(":0", listen) == Address{"", 0});
  CHECK(*parse_address("127.0.0.1:0", listen) == Address{"127.0.0.1", 0});
  CHECK(*parse_address("[::1]:0", listen) == Address{"::1", 0});
  CHECK(*parse_address("127.0.0.1", listen) == Address{"127.0.0.1", 7072});
  CHECK_FALSE(parse_address("", listen));
  CHECK_FALSE(parse_address("127.0.0.1:65536", listen));
}

TEST_CASE("IPv6 literals are recognised", "[core][address]") {
  for (const char* good :
       {"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1::8", "::ffff:1.2.3.4", "fe80::1%lo"}) {
    INFO(good);
    CHECK(is_ipv6_literal(good));
  }
  for (const char* bad : {"", ":", "1", "a:b:c", "1:2:3:4:5:6:7:8:9", "1::2::3",
                          "::1:", ":1::", "g::1", "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%"}) {
    INFO(bad);
    CHECK_FALSE(is_ipv6_literal(bad));
  }
}

TEST_CASE("addresses format back with brackets for IPv6", "[core][address]") {
  CHECK(format_host("mail.example.com") == "mail.example.com");
  CHECK(format_host("::1") == "[::1]");
  CHECK(format_address("127.0.0.1", 7072) == "127.0.0.1:7072");
  CHECK(format_address("::1", 8080) == "[::1]:8080");
  CHECK(format_address(Address{"2001:db8::1", 443}) == "[2001:db8::1]:443");
  for (const char* text : {"host:1", "[::1]:8080", "10.0.0.1:65535", "[fe80::1%eth0]:443"}) {
    INFO(text);
    CHECK(format_address(*parse_address(text)) == text);
  }
}

TEST_CASE("the host part of an authority is taken leniently", "[core][address]") {
  using zmproxy::core::host_part;
  CHECK(host_part("mail.example.com") == "mail.example.com");
  CHECK(host_part("mail.example.com:443") == "mail.example.com");
  CHECK(host_part("10.0.0.1:80") == "10.0.0.1");
  CHECK(host_part("[2001:db8::1]:443") == "2001:db8::1");
  CHECK(host_part("[::1]") == "::1");
  CHECK(host_part("[::1") == "::1");
  CHECK(host_part("2001:db8::1") == "2001:db8::1");  // a bare v6 address keeps its colons
  CHECK(host_part("host:") == "host");
  CHECK(host_part("") == "");
}

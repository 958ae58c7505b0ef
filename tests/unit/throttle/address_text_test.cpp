#include "lib/throttle/address_text.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <array>
#include <string>

using namespace zmproxy::throttle;

TEST_CASE("client addresses are written as nginx's ngx_inet_ntop writes them", "[throttle][address]") {
  CHECK(nginx_address_text("192.0.2.7") == "192.0.2.7");
  CHECK(nginx_address_text("10.0.0.1") == "10.0.0.1");
  CHECK(nginx_address_text("2001:DB8:0:0:0:0:0:7") == "2001:db8::7");
  CHECK(nginx_address_text("2001:0db8:0000:0001:0000:0000:0000:0001") == "2001:db8:0:1::1");
  CHECK(nginx_address_text("2001:db8:0:0:1:0:0:1") == "2001:db8::1:0:0:1");  // first longest run
  CHECK(nginx_address_text("2001:db8:0:1:1:1:1:1") == "2001:db8:0:1:1:1:1:1");  // one zero group stays
  CHECK(nginx_address_text("::") == "::");
  CHECK(nginx_address_text("::1") == "::1");
  CHECK(nginx_address_text("1::") == "1::");
  CHECK(nginx_address_text("2001:db8::") == "2001:db8::");
  CHECK(nginx_address_text("fe80::1") == "fe80::1");
  CHECK(nginx_address_text("::FFFF:192.0.2.7") == "::ffff:192.0.2.7");
  CHECK(nginx_address_text("::192.0.2.7") == "::192.0.2.7");
  // ngx_inet6_ntop's ::/112 rule: dotted unless byte 14 is 0 or byte 15 is 1.
  CHECK(nginx_address_text("::102") == "::0.0.1.2");
  CHECK(nginx_address_text("::101") == "::101");
  CHECK(nginx_address_text("::ff") == "::ff");
}

TEST_CASE("only an address alone has a text", "[throttle][address]") {
  CHECK_FALSE(nginx_address_text(""));
  CHECK_FALSE(nginx_address_text("192.0.2.0/24"));
  CHECK_FALSE(nginx_address_text("[::1]"));
  CHECK_FALSE(nginx_address_text("fe80::1%eth0"));
  CHECK_FALSE(nginx_address_text("mail.example.com"));
}

TEST_CASE("nginx's IPv6 text is glibc's, but for the ::/112 quirk", "[throttle][address]") {
  // Every pattern of zero and non-zero groups, with group values that have
  // leading zeros, letters and ffff.
  constexpr std::array<unsigned, 4> values = {0x1, 0xabcd, 0xffff, 0x0a0b};
  int compared = 0;
  for (unsigned pattern = 0; pattern < 256; ++pattern) {
    zmproxy::net::AddressBlock a;
    a.family = AF_INET6;
    a.bits = 128;
    for (unsigned g = 0; g < 8; ++g) {
      const unsigned v = (pattern >> g) & 1U ? values[g % values.size()] : 0;
      a.bytes[2 * g] = static_cast<unsigned char>(v >> 8);
      a.bytes[2 * g + 1] = static_cast<unsigned char>(v & 0xff);
    }
    if (pattern == 0x80) {  // only the last group: the quirk
      continue;
    }
    std::array<char, INET6_ADDRSTRLEN> glibc{};
    REQUIRE(::inet_ntop(AF_INET6, a.bytes.data(), glibc.data(), glibc.size()) != nullptr);
    INFO("pattern " << pattern);
    CHECK(nginx_address_text(a) == std::string(glibc.data()));
    ++compared;
  }
  CHECK(compared == 255);
}

#include "lib/net/proxy_header.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

using namespace zmproxy::net;
using namespace std::string_view_literals;

namespace {

const std::string k_sig("\r\n\r\n\0\r\nQUIT\n", 12);

std::string v2(unsigned char ver_cmd, unsigned char fam, const std::string& block) {
  std::string h = k_sig;
  h.push_back(static_cast<char>(ver_cmd));
  h.push_back(static_cast<char>(fam));
  h.push_back(static_cast<char>(block.size() >> 8));
  h.push_back(static_cast<char>(block.size() & 0xff));
  return h + block;
}

std::string tcp4_block(const std::string& tlvs = "") {
  // 192.0.2.7:54321 -> 198.51.100.1:993
  return std::string("\xc0\x00\x02\x07\xc6\x33\x64\x01\xd4\x31\x03\xe1", 12) + tlvs;
}

std::string tcp6_block() {
  std::string b(36, '\0');
  b[0] = '\x20';
  b[1] = '\x01';
  b[2] = '\x0d';
  b[3] = '\xb8';
  b[15] = '\x05';  // 2001:db8::5
  b[16] = '\x20';
  b[17] = '\x01';
  b[31] = '\x01';
  b[32] = '\x30';  // port 12345 = 0x3039
  b[33] = '\x39';
  b[34] = '\x00';
  b[35] = '\x8f';  // 143
  return b;
}

ProxyEndpoint v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
  ProxyEndpoint e;
  e.address[0] = a;
  e.address[1] = b;
  e.address[2] = c;
  e.address[3] = d;
  e.port = port;
  return e;
}

// Every proper prefix of a complete header is need_more.
void check_prefixes_need_more(const std::string& header) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    INFO("prefix of " << i << " bytes");
    const ProxyHeader p = parse_proxy_header(std::string_view(header).substr(0, i));
    CHECK(p.status == ProxyParse::need_more);
  }
}

}  // namespace

TEST_CASE("proxy header v1: TCP4, TCP6, UNKNOWN, and what follows is not consumed", "[net][proxy_header]") {
  const std::string line = "PROXY TCP4 192.0.2.7 198.51.100.1 54321 993\r\n";
  ProxyHeader h = parse_proxy_header(line + "a1 LOGIN");
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.version == 1);
  CHECK(h.length == line.size());
  CHECK(h.source == ProxySource::proxied);
  CHECK(h.client == v4(192, 0, 2, 7, 54321));
  check_prefixes_need_more(line);

  h = parse_proxy_header("PROXY TCP6 2001:db8::5 2001:DB8::1 0 65535\r\n\x16\x03\x01");
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.length == 44);
  CHECK(h.client.ipv6);
  CHECK(h.client.address[0] == 0x20);
  CHECK(h.client.address[3] == 0xb8);
  CHECK(h.client.address[15] == 5);
  CHECK(h.client.port == 0);

  h = parse_proxy_header("PROXY UNKNOWN\r\n");
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.source == ProxySource::unknown);
  CHECK(h.length == 15);
  h = parse_proxy_header("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                         "65535 65535\r\n");
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.length == 107);  // the spec's worst case
  CHECK(h.source == ProxySource::unknown);

  // The longest TCP6 line (104 bytes).
  h = parse_proxy_header("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                         "65535 65535\r\n");
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.length == 104);
}

TEST_CASE("proxy header v1: every malformed field is invalid", "[net][proxy_header]") {
  for (const std::string bad : {
           "PROXY TCP4 192.0.2.7 198.51.100.1 54321 993\n",      // LF alone
           "PROXY TCP4 192.0.2.7 198.51.100.1 54321 993\rX",     // CR alone
           "PROXY  TCP4 192.0.2.7 198.51.100.1 54321 993\r\n",   // two spaces
           "PROXY TCP4 192.0.2.7  198.51.100.1 54321 993\r\n",
           "PROXY TCP4 192.0.2.7 198.51.100.1 54321 993 \r\n",   // trailing space
           "PROXY TCP4 192.0.2.7 198.51.100.1 54321\r\n",        // a field short
           "PROXY TCP4 192.0.2.7 198.51.100.1 54321 993 7\r\n",  // a field more
           "PROXY TCP5 192.0.2.7 198.51.100.1 54321 993\r\n",
           "PROXY tcp4 192.0.2.7 198.51.100.1 54321 993\r\n",
           "PROXY TCP4 192.0.2.07 198.51.100.1 54321 993\r\n",   // leading zero
           "PROXY TCP4 192.0.2.256 198.51.100.1 54321 993\r\n",
           "PROXY TCP4 192.0.2 198.51.100.1 54321 993\r\n",
           "PROXY TCP4 192.0.2.7.1 198.51.100.1 54321 993\r\n",
           "PROXY TCP4 192.0.2.7 ::1 54321 993\r\n",             // family mix
           "PROXY TCP6 2001:db8::5 198.51.100.1 54321 993\r\n",
           "PROXY TCP6 ::ffff:1.2.3.4 ::1 54321 993\r\n",        // dotted tail
           "PROXY TCP6 2001:db8:::5 ::1 1 2\r\n",
           "PROXY TCP6 12345::1 ::1 1 2\r\n",
           "PROXY TCP4 192.0.2.7 198.51.100.1 054321 993\r\n",   // leading zero
           "PROXY TCP4 192.0.2.7 198.51.100.1 65536 993\r\n",
           "PROXY TCP4 192.0.2.7 198.51.100.1 -1 993\r\n",
           "PROXY TCP4 192.0.2.7 198.51.100.1 54321 +993\r\n",
           "PROXY \r\n",
           "PROXY UNKNOWNX\r\n",
           "PROXY UNKNOWN \x01\r\n",                              // control byte
           "PROXY TCP4 192.0.2.7 198.51.100.1 54321 99\xc3\xa9\r\n",
           "PROXZ TCP4",
           "proxy TCP4",
           "GET / HTTP/1.1\r\n",
           "a1 LOGIN bob secret\r\n",
           "\x16\x03\x01\x02\x00",  // a TLS ClientHello: the header is missing
       }) {
    INFO(bad);
    const ProxyHeader h = parse_proxy_header(bad);
    CHECK(h.status == ProxyParse::invalid);
    CHECK_FALSE(h.reason.empty());
  }
}

TEST_CASE("proxy header v1: no CRLF within 107 bytes is invalid, not a wait", "[net][proxy_header]") {
  const std::string long_line = "PROXY UNKNOWN " + std::string(92, 'x');  // 106 bytes
  CHECK(parse_proxy_header(long_line).status == ProxyParse::need_more);
  CHECK(parse_proxy_header(long_line + "\r").status == ProxyParse::invalid);  // CRLF would end at 108
  CHECK(parse_proxy_header(long_line + "\r\n").status == ProxyParse::invalid);
  CHECK(parse_proxy_header(long_line + "x").status == ProxyParse::invalid);
  CHECK(parse_proxy_header(long_line.substr(0, 105) + "\r\n").status == ProxyParse::complete);
  CHECK(parse_proxy_header(std::string(5000, 'P')).status == ProxyParse::invalid);
}

TEST_CASE("proxy header v2: PROXY over TCP4 and TCP6, TLVs skipped", "[net][proxy_header]") {
  const std::string tlvs = std::string("\x04\x00\x03" "abc" "\xea\x00\x00", 9);  // NOOP, AWS (empty)
  const std::string h4 = v2(0x21, 0x11, tcp4_block(tlvs));
  ProxyHeader h = parse_proxy_header(h4 + "* OK");
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.version == 2);
  CHECK(h.length == 16 + 12 + 9);
  CHECK(h.source == ProxySource::proxied);
  CHECK(h.client == v4(192, 0, 2, 7, 54321));
  check_prefixes_need_more(h4);

  const std::string h6 = v2(0x21, 0x21, tcp6_block());
  h = parse_proxy_header(h6);
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.length == 52);
  CHECK(h.client.ipv6);
  CHECK(h.client.address[1] == 0x01);
  CHECK(h.client.address[15] == 0x05);
  CHECK(h.client.port == 12345);
  check_prefixes_need_more(h6);
}

TEST_CASE("proxy header v2: LOCAL, UNSPEC and AF_UNIX keep the peer", "[net][proxy_header]") {
  ProxyHeader h = parse_proxy_header(v2(0x20, 0x00, ""));
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.source == ProxySource::local);
  CHECK(h.length == 16);
  // LOCAL skips whatever block it carries, family and all.
  h = parse_proxy_header(v2(0x20, 0x11, tcp4_block()));
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.source == ProxySource::local);
  CHECK(h.length == 28);
  CHECK(h.client == ProxyEndpoint{});
  h = parse_proxy_header(v2(0x20, 0x77, "junk"));
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.source == ProxySource::local);

  h = parse_proxy_header(v2(0x21, 0x00, "anything"));
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.source == ProxySource::unknown);
  CHECK(h.length == 24);
  h = parse_proxy_header(v2(0x21, 0x31, std::string(216, '/')));
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.source == ProxySource::unknown);
  CHECK(h.client == ProxyEndpoint{});
}

TEST_CASE("proxy header v2: every malformed field is invalid", "[net][proxy_header]") {
  std::string wrong_sig = v2(0x21, 0x11, tcp4_block());
  wrong_sig[11] = 'X';
  CHECK(parse_proxy_header(wrong_sig).status == ProxyParse::invalid);
  CHECK(parse_proxy_header(wrong_sig.substr(0, 12)).status == ProxyParse::invalid);  // before the rest
  CHECK(parse_proxy_header("\r\n\r\nX").status == ProxyParse::invalid);
  CHECK(parse_proxy_header(v2(0x11, 0x11, tcp4_block())).status == ProxyParse::invalid);  // version 1
  CHECK(parse_proxy_header(v2(0x31, 0x11, tcp4_block())).status == ProxyParse::invalid);  // version 3
  CHECK(parse_proxy_header(v2(0x22, 0x11, tcp4_block())).status == ProxyParse::invalid);  // command 2
  CHECK(parse_proxy_header(v2(0x22, 0x11, tcp4_block()).substr(0, 13)).status ==
        ProxyParse::invalid);  // known at the 13th byte
  for (const unsigned char fam : {0x12, 0x22, 0x32, 0x13, 0x41, 0x01, 0x10, 0xff}) {
    INFO(static_cast<int>(fam));
    CHECK(parse_proxy_header(v2(0x21, fam, std::string(216, '\0'))).status == ProxyParse::invalid);
  }
  CHECK(parse_proxy_header(v2(0x21, 0x11, tcp4_block().substr(0, 11))).status == ProxyParse::invalid);
  CHECK(parse_proxy_header(v2(0x21, 0x21, std::string(35, '\0'))).status == ProxyParse::invalid);
  CHECK(parse_proxy_header(v2(0x21, 0x31, std::string(215, '\0'))).status == ProxyParse::invalid);
  // TLVs must tile the rest of the block exactly.
  CHECK(parse_proxy_header(v2(0x21, 0x11, tcp4_block("\x04\x00"))).status == ProxyParse::invalid);
  CHECK(parse_proxy_header(v2(0x21, 0x11, tcp4_block(std::string("\x04\x00\x05" "abc", 6)))).status ==
        ProxyParse::invalid);
  CHECK(parse_proxy_header(v2(0x21, 0x11, tcp4_block(std::string("\x04\x00\x00" "\x04", 4)))).status ==
        ProxyParse::invalid);
}

TEST_CASE("proxy header v2: the length is bounded before anything is waited for", "[net][proxy_header]") {
  std::string big = v2(0x21, 0x11, tcp4_block(std::string("\x04\x0f\xe1", 3) + std::string(4065, 'n')));
  REQUIRE(big.size() == 4096);
  ProxyHeader h = parse_proxy_header(big);
  CHECK(h.status == ProxyParse::complete);
  CHECK(h.length == 4096);
  // One byte more is refused from the 16 bytes that announce it.
  std::string fixed = k_sig + "\x21\x11" + std::string("\x0f\xf1", 2);
  h = parse_proxy_header(fixed);
  CHECK(h.status == ProxyParse::invalid);
  fixed = k_sig + "\x21\x11" + std::string("\xff\xff", 2);
  CHECK(parse_proxy_header(fixed).status == ProxyParse::invalid);
}

TEST_CASE("proxy header v2: what zmproxyd sends parses back", "[net][proxy_header]") {
  const ProxyEndpoint client = v4(203, 0, 113, 9, 40000);
  const ProxyEndpoint proxy = v4(127, 0, 0, 1, 143);
  std::string out = proxy_v2_header(client, proxy);
  CHECK(out.size() == 28);
  ProxyHeader h = parse_proxy_header(out);
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.source == ProxySource::proxied);
  CHECK(h.client == client);

  ProxyEndpoint six;
  six.ipv6 = true;
  six.address[15] = 1;
  six.port = 7;
  out = proxy_v2_header(client, six);  // mixed: both as IPv6, the IPv4 one mapped
  CHECK(out.size() == 52);
  h = parse_proxy_header(out);
  REQUIRE(h.status == ProxyParse::complete);
  CHECK(h.client.ipv6);
  CHECK(h.client.address[10] == 0xff);
  CHECK(h.client.address[11] == 0xff);
  CHECK(h.client.address[12] == 203);
  CHECK(h.client.port == 40000);
}

TEST_CASE("proxy header: nothing yet, and a first byte that cannot start one", "[net][proxy_header]") {
  CHECK(parse_proxy_header("").status == ProxyParse::need_more);
  CHECK(parse_proxy_header("P").status == ProxyParse::need_more);
  CHECK(parse_proxy_header("\r").status == ProxyParse::need_more);
  CHECK(parse_proxy_header("\r\n\r\n\0"sv).status == ProxyParse::need_more);
  const ProxyHeader h = parse_proxy_header("Q");
  CHECK(h.status == ProxyParse::invalid);
  CHECK(h.reason == "not a PROXY protocol header");
}

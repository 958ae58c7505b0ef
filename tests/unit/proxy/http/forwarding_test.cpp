#include "lib/proxy/http/forwarding.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::proxy::http;

TEST_CASE("an untrusted client's forwarding fields are all dropped", "[http][forwarding]") {
  for (const char* name :
       {"X-Forwarded-For", "x-forwarded-for", "X-Real-IP", "Forwarded", "X-Forwarded-Host",
        "X-FORWARDED-PROTO", "X-Forwarded-Port", "X-Forwarded-Server"}) {
    CHECK(drop_client_field(name, false));
  }
  CHECK_FALSE(drop_client_field("X-Forwarded", false));
  CHECK_FALSE(drop_client_field("Cookie", false));
  CHECK_FALSE(drop_client_field("Host", false));
}

TEST_CASE("a trusted peer keeps all but X-Forwarded-For, which is rewritten whole",
          "[http][forwarding]") {
  CHECK(drop_client_field("X-Forwarded-For", true));
  CHECK_FALSE(drop_client_field("X-Real-IP", true));
  CHECK_FALSE(drop_client_field("Forwarded", true));
  CHECK_FALSE(drop_client_field("X-Forwarded-Host", true));
}

TEST_CASE("our forwarding fields", "[http][forwarding]") {
  ForwardingInput in;
  in.peer_ip = "198.51.100.7";
  in.scheme = "https";
  in.host = "mail.example.com";
  in.client_xff = "192.0.2.1";  // ignored: not trusted
  std::string out;
  append_forwarding_fields(out, in);
  CHECK(out ==
        "X-Forwarded-For: 198.51.100.7\r\nX-Real-IP: 198.51.100.7\r\nX-Forwarded-Proto: https\r\n"
        "X-Forwarded-Host: mail.example.com\r\n");

  in.trusted_peer = true;
  in.client_has_real_ip = true;
  in.client_has_proto = true;
  out.clear();
  append_forwarding_fields(out, in);
  CHECK(out ==
        "X-Forwarded-For: 192.0.2.1, 198.51.100.7\r\nX-Forwarded-Host: mail.example.com\r\n");

  in.client_xff = {};
  in.client_has_host = true;
  out.clear();
  append_forwarding_fields(out, in);
  CHECK(out == "X-Forwarded-For: 198.51.100.7\r\n");
}

TEST_CASE("forwarded_client: the right-most address of the chain that is not a trusted proxy",
          "[http][forwarding]") {
  const std::vector<std::string> trusted = {"10.0.0.0/8", "2001:db8:1::/48"};
  CHECK(forwarded_client("198.51.100.7", trusted) == "198.51.100.7");
  // Left of the client is the client's own word: a forged entry is not believed.
  CHECK(forwarded_client("203.0.113.9, 198.51.100.7", trusted) == "198.51.100.7");
  // Balancers in the chain are skipped.
  CHECK(forwarded_client("198.51.100.7, 10.1.2.3,10.4.5.6", trusted) == "198.51.100.7");
  CHECK(forwarded_client("2001:db8:2::7, 2001:db8:1::5", trusted) == "2001:db8:2::7");
  // Nothing usable: the peer is the client.
  CHECK(forwarded_client("", trusted).empty());
  CHECK(forwarded_client("10.1.2.3", trusted).empty());
  CHECK(forwarded_client("198.51.100.7, unknown", trusted).empty());
  CHECK(forwarded_client("198.51.100.0/24", trusted).empty());
}

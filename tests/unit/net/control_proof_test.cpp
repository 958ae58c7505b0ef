#include "lib/net/control_proof.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace zmproxy::net;

TEST_CASE("control proof: HMAC-SHA256 of the secret over the nonce and the command",
          "[net][control]") {
  // python3 -c 'import hmac,hashlib; print(hmac.new(b"0123456789abcdef",
  //   b"zmproxy-control 00112233445566778899aabbccddeeff STATUS", hashlib.sha256).hexdigest())'
  const std::string nonce = "00112233445566778899aabbccddeeff";
  const std::string p = control_proof("0123456789abcdef", nonce, "STATUS");
  CHECK(p == "1260eeefb3370105753b7978986526f56db12c82b79fde5ed2fa4b3a5807a524");
  CHECK(control_proof_matches(p, "0123456789abcdef", nonce, "STATUS"));
  CHECK_FALSE(control_proof_matches(p, "0123456789abcdeF", nonce, "STATUS"));  // another secret
  CHECK_FALSE(control_proof_matches(p, "0123456789abcdef", "10" + nonce.substr(2), "STATUS"));
  CHECK_FALSE(
      control_proof_matches(p, "0123456789abcdef", nonce, "FORGET ALL"));  // another command
  CHECK_FALSE(control_proof_matches(p.substr(0, 63), "0123456789abcdef", nonce, "STATUS"));
  CHECK_FALSE(control_proof_matches("", "0123456789abcdef", nonce, "STATUS"));
}

TEST_CASE("control proof: a fresh nonce each time, and the greeting that carries it",
          "[net][control]") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string n = make_control_nonce();
    REQUIRE(n.size() == 32);
    CHECK(greeting_nonce(std::string(k_control_greeting) + n) == n);
    seen.insert(n);
  }
  CHECK(seen.size() == 100);
  CHECK_FALSE(greeting_nonce("ZMPROXY-CONTROL 1 xyz").has_value());
  CHECK_FALSE(greeting_nonce("* OK IMAP ready").has_value());
  CHECK_FALSE(greeting_nonce(std::string(k_control_greeting) + std::string(32, 'G')).has_value());
}

TEST_CASE("control proof: the client's line is a proof and a command", "[net][control]") {
  const auto a = split_control_answer("abc FORGET ALL");
  REQUIRE(a.has_value());
  CHECK(a->proof == "abc");
  CHECK(a->command == "FORGET ALL");
  CHECK_FALSE(split_control_answer("STATUS").has_value());
  CHECK_FALSE(split_control_answer(" STATUS").has_value());
  CHECK_FALSE(split_control_answer("abc ").has_value());
}

TEST_CASE("control endpoint allowlists", "[net][control]") {
  CHECK(proxy_endpoint_allows("STATUS"));
  CHECK(proxy_endpoint_allows("FORGET ALL"));
  CHECK(proxy_endpoint_allows("FORGET user@example.com"));
  CHECK(proxy_endpoint_allows("FORGET a@x.test b@x.test bare"));
  for (const char* refused :
       {"STOP", "STOP 0", "RELOAD", "RELOAD /tmp/x", "status", "FORGET", "FORGET ", "FORGET  a",
        "FORGET a ", "FORGET a\tb", "FORGET a\x01", "FLUSH", "STATS", "STATUS x"}) {
    CHECK_FALSE(proxy_endpoint_allows(refused));
  }
  CHECK_FALSE(proxy_endpoint_allows("FORGET " + std::string(513, 'a')));
  CHECK(lookup_endpoint_allows("FLUSH"));
  CHECK(lookup_endpoint_allows("STATS"));
  for (const char* refused : {"flush", "STATUS", "FORGET ALL", "FLUSH x", ""}) {
    CHECK_FALSE(lookup_endpoint_allows(refused));
  }
}

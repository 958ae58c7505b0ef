#include "lib/krb5/security_layer.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy;
using namespace zmproxy::krb5;

TEST_CASE("the server offers only no security layer with a maximum buffer of 0", "[krb5]") {
  const std::string offer = server_layer_offer();
  REQUIRE(offer.size() == 4);
  CHECK(offer == std::string("\x01\x00\x00\x00", 4));
}

TEST_CASE("the client reply is encoded big-endian with the authzid after it", "[krb5]") {
  CHECK(client_layer_reply(k_layer_none, 0, "") == std::string("\x01\x00\x00\x00", 4));
  CHECK(client_layer_reply(k_layer_integrity, 0x010203, "bob") == std::string("\x02\x01\x02\x03"
                                                                              "bob",
                                                                              7));
}

TEST_CASE("a client choosing no security layer gets its authzid back", "[krb5]") {
  auto empty = parse_client_layer_reply(client_layer_reply(k_layer_none, 0, ""));
  REQUIRE(empty);
  CHECK(empty->empty());
  auto named = parse_client_layer_reply(client_layer_reply(k_layer_none, 0, "user1@example.com"));
  REQUIRE(named);
  CHECK(*named == "user1@example.com");
  // The maximum buffer means nothing without a layer: tolerated.
  auto sized = parse_client_layer_reply(client_layer_reply(k_layer_none, 0xffffff, "u"));
  REQUIRE(sized);
  CHECK(*sized == "u");
  auto utf8 = parse_client_layer_reply(client_layer_reply(k_layer_none, 0, "j\xc3\xbcrgen"));
  REQUIRE(utf8);
  CHECK(*utf8 == "j\xc3\xbcrgen");
  auto longest = parse_client_layer_reply(
      client_layer_reply(k_layer_none, 0, std::string(k_max_authzid, 'a')));
  CHECK(longest);
}

TEST_CASE("a reply shorter than four bytes is refused", "[krb5]") {
  for (const std::string& reply :
       {std::string{}, std::string("\x01", 1), std::string("\x01\x00\x00", 3)}) {
    auto r = parse_client_layer_reply(reply);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
    CHECK_THAT(r.error().message, Catch::Contains("not at least 4"));
  }
}

TEST_CASE("a client choosing any security layer is refused, naming it", "[krb5]") {
  auto integrity = parse_client_layer_reply(client_layer_reply(k_layer_integrity, 4096, ""));
  REQUIRE_FALSE(integrity);
  CHECK_THAT(integrity.error().message, Catch::Contains("integrity layer"));
  auto conf = parse_client_layer_reply(client_layer_reply(k_layer_confidentiality, 4096, ""));
  REQUIRE_FALSE(conf);
  CHECK_THAT(conf.error().message, Catch::Contains("confidentiality layer"));
  auto both = parse_client_layer_reply(client_layer_reply(k_layer_none | k_layer_integrity, 0, ""));
  REQUIRE_FALSE(both);
  CHECK_THAT(both.error().message, Catch::Contains("more than one layer (0x03)"));
  auto none = parse_client_layer_reply(client_layer_reply(0, 0, ""));
  REQUIRE_FALSE(none);
  CHECK_THAT(none.error().message, Catch::Contains("no layer at all"));
}

TEST_CASE("a bad authorization identity is refused", "[krb5]") {
  auto too_long = parse_client_layer_reply(
      client_layer_reply(k_layer_none, 0, std::string(k_max_authzid + 1, 'a')));
  REQUIRE_FALSE(too_long);
  CHECK_THAT(too_long.error().message, Catch::Contains("longer than 256"));
  for (const std::string& bad :
       {std::string("a\0b", 3), std::string("a\r\nb"), std::string("\x7f")}) {
    auto r = parse_client_layer_reply(client_layer_reply(k_layer_none, 0, bad));
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("NUL or control character"));
  }
  auto latin1 = parse_client_layer_reply(client_layer_reply(k_layer_none, 0, "j\xfcrgen"));
  REQUIRE_FALSE(latin1);
  CHECK_THAT(latin1.error().message, Catch::Contains("not UTF-8"));
}

TEST_CASE("is_utf8 refuses overlong forms, surrogates and truncated sequences", "[krb5]") {
  CHECK(is_utf8(""));
  CHECK(is_utf8("plain"));
  CHECK(is_utf8("\xe2\x82\xac"));            // U+20AC
  CHECK(is_utf8("\xf0\x9f\x98\x80"));        // U+1F600
  CHECK(is_utf8("\xf4\x8f\xbf\xbf"));        // U+10FFFF
  CHECK_FALSE(is_utf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(is_utf8("\xe0\x80\xaf"));      // overlong, three bytes
  CHECK_FALSE(is_utf8("\xed\xa0\x80"));      // U+D800
  CHECK_FALSE(is_utf8("\xf4\x90\x80\x80"));  // over U+10FFFF
  CHECK_FALSE(is_utf8("\xe2\x82"));          // truncated
  CHECK_FALSE(is_utf8("\x80"));              // lone continuation
  CHECK_FALSE(is_utf8("\xe2\x28\xa1"));      // bad continuation
}

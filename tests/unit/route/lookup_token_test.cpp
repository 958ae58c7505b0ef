#include "lib/route/lookup_token.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy::route;

TEST_CASE("a lookup token verifies for its user until its expiry", "[route][token]") {
  const std::string t = mint_lookup_token("alice@example.com", 1000, "s3cret");
  CHECK(t.rfind("zmlt1:1000:", 0) == 0);
  CHECK(t.size() == std::string("zmlt1:1000:").size() + 64);
  CHECK(verify_lookup_token(t, "alice@example.com", 940, "s3cret"));
  CHECK(verify_lookup_token(t, "alice@example.com", 1000, "s3cret"));
  CHECK_FALSE(verify_lookup_token(t, "alice@example.com", 1001, "s3cret"));  // expired
}

TEST_CASE("a lookup token is void for another user, secret, expiry or MAC", "[route][token]") {
  const std::string t = mint_lookup_token("alice@example.com", 1000, "s3cret");
  CHECK_FALSE(verify_lookup_token(t, "bob@example.com", 900, "s3cret"));
  CHECK_FALSE(verify_lookup_token(t, "alice@example.com", 900, "other"));
  CHECK_FALSE(verify_lookup_token(t, "alice@example.com", 900, ""));
  std::string later = t;
  later.replace(6, 4, "9999");  // a later expiry under the same MAC
  CHECK_FALSE(verify_lookup_token(later, "alice@example.com", 900, "s3cret"));
  std::string flipped = t;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  CHECK_FALSE(verify_lookup_token(flipped, "alice@example.com", 900, "s3cret"));
  CHECK_FALSE(verify_lookup_token(t.substr(0, t.size() - 1), "alice@example.com", 900, "s3cret"));
  CHECK_FALSE(verify_lookup_token("zmlt1::" + t.substr(11), "alice@example.com", 900, "s3cret"));
  CHECK_FALSE(verify_lookup_token("garbage", "alice@example.com", 900, "s3cret"));
  CHECK_FALSE(verify_lookup_token("", "alice@example.com", 900, "s3cret"));
}

TEST_CASE("no token is minted without a secret", "[route][token]") {
  CHECK(mint_lookup_token("alice@example.com", 1000, "").empty());
}

TEST_CASE("the MAC binds the user and the expiry apart", "[route][token]") {
  // "a|1|2" must not verify as user "a|1" with expiry 2 or the reverse.
  const std::string t = mint_lookup_token("a", 12, "k");
  CHECK_FALSE(verify_lookup_token("zmlt1:2:" + t.substr(t.rfind(':') + 1), "a|1", 0, "k"));
}

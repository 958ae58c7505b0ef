#include "lib/route/route_seal.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy::route;

TEST_CASE("sealed route values verify only with the secret and for their key", "[route][seal]") {
  const std::string key = "route:proto=imap;user=john@example.com";
  const std::string sealed = seal_route_value(key, "mail.partner.example:143", "s3cret");
  CHECK(sealed.starts_with("mail.partner.example:143;hmac="));
  CHECK(sealed.size() == std::string("mail.partner.example:143;hmac=").size() + 64);

  auto ok = open_route_value(key, sealed, "s3cret");
  CHECK(ok.value == "mail.partner.example:143");
  CHECK(ok.sealed);
  CHECK(ok.verified);
  CHECK_FALSE(open_route_value(key, sealed, "other").verified);
  CHECK_FALSE(open_route_value(key, sealed, "").verified);
  CHECK_FALSE(
      open_route_value("route:proto=imap;user=mary@example.com", sealed, "s3cret").verified);
  std::string forged = sealed;
  forged.replace(0, 4, "evil");
  CHECK_FALSE(open_route_value(key, forged, "s3cret").verified);
  CHECK_FALSE(open_route_value(key, "10.0.0.7:7143;hmac=00", "s3cret").verified);

  auto plain = open_route_value(key, "10.0.0.7:7143", "s3cret");
  CHECK(plain.value == "10.0.0.7:7143");
  CHECK_FALSE(plain.sealed);
}

TEST_CASE("a value with more than one marker keeps the rest in the HMAC part", "[route][seal]") {
  const std::string key = "route:proto=imap;user=john@example.com";
  const std::string sealed = seal_route_value(key, "10.0.0.7:7143", "s3cret");
  const std::string stored = sealed + ";hmac=00";
  const auto doubled = open_route_value(key, stored, "s3cret");
  CHECK(doubled.value == "10.0.0.7:7143");
  CHECK(doubled.sealed);
  CHECK_FALSE(doubled.verified);
  // An empty HMAC is sealed and never verifies.
  const auto empty = open_route_value(key, "10.0.0.7:7143;hmac=", "s3cret");
  CHECK(empty.sealed);
  CHECK_FALSE(empty.verified);
}

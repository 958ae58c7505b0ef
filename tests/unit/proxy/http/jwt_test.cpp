#include "lib/proxy/http/jwt.hpp"

#include <catch2/catch.hpp>

#include <string>

using zmproxy::proxy::http::base64url_decode;
using zmproxy::proxy::http::jwt_payload;
using namespace std::string_literals;

TEST_CASE("base64url decoding", "[http][jwt]") {
  CHECK(base64url_decode("") == ""s);
  CHECK(base64url_decode("Zg") == "f"s);
  CHECK(base64url_decode("Zg==") == "f"s);
  CHECK(base64url_decode("Zm8") == "fo"s);
  CHECK(base64url_decode("Zm9v") == "foo"s);
  CHECK(base64url_decode("-_8") == "\xfb\xff"s);
  CHECK_FALSE(base64url_decode("+/8").has_value());
  CHECK_FALSE(base64url_decode("Z").has_value());
  CHECK_FALSE(base64url_decode("Zm 9v").has_value());
  CHECK_FALSE(base64url_decode("Zg=x").has_value());
}

TEST_CASE("the payload of a JWS compact token", "[http][jwt]") {
  // {"alg":"HS256"} . {"sub":"abc"} . signature
  const std::string header = "eyJhbGciOiJIUzI1NiJ9";
  const std::string payload = "eyJzdWIiOiJhYmMifQ";
  CHECK(jwt_payload(header + "." + payload + ".c2ln") == R"({"sub":"abc"})"s);
  CHECK(jwt_payload(header + "." + payload + ".") == R"({"sub":"abc"})"s);  // no signature (alg none)
  CHECK(jwt_payload(header + "=." + payload + "==.c2ln=") == R"({"sub":"abc"})"s);  // padding
  CHECK(jwt_payload("aA.__4.") == "\xff\xfe"s);  // bytes as they are: JSON is not checked here
}

TEST_CASE("what is not a JWS compact token has no payload", "[http][jwt]") {
  const std::string payload = "eyJzdWIiOiJhYmMifQ";
  for (const std::string& token : {""s, "abc"s, "a.b"s, "a.b.c.d"s, "a.b.c.d.e"s,  // JWE: five segments
                                   "." + payload + ".sig",                         // no header
                                   "aGVhZA..sig"s,                                 // no payload
                                   "aGVhZA." + payload + ".si+g",                  // signature alphabet
                                   "aGV/ZA." + payload + ".sig",                   // header alphabet
                                   "aGVhZA." + payload + "+.sig",                  // payload alphabet
                                   "aGVhZA.Z.sig"s,                                // payload length
                                   " aGVhZA." + payload + ".sig"}) {               // no trimming here
    INFO(token);
    CHECK_FALSE(jwt_payload(token).has_value());
  }
}

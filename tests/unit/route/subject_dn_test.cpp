#include "lib/route/subject_dn.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::route;

namespace {

std::vector<std::pair<std::string, std::string>> pairs(std::string_view dn) {
  auto parsed = parse_subject_dn(dn);
  REQUIRE(parsed);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& a : *parsed) {
    out.emplace_back(a.type, a.value);
  }
  return out;
}

}  // namespace

TEST_CASE("a subject DN in RFC 4514 form, as OpenSSL prints it", "[route][certauth]") {
  using P = std::vector<std::pair<std::string, std::string>>;
  CHECK(pairs("emailAddress=alice@example.com,CN=Alice Liddell,O=Example,C=US") ==
        P{{"emailAddress", "alice@example.com"},
          {"CN", "Alice Liddell"},
          {"O", "Example"},
          {"C", "US"}});
  // Escapes: a special character, two hex digits (UTF-8 bytes), a leading space.
  CHECK(pairs(R"(CN=Smith\, John,O=A\2BB,OU=\C3\A9t\C3\A9,L=\ x)") ==
        P{{"CN", "Smith, John"}, {"O", "A+B"}, {"OU", "\xC3\xA9t\xC3\xA9"}, {"L", " x"}});
  // '+' inside an RDN, spaces and quotes (RFC 1779), ';' between RDNs.
  CHECK(pairs(R"(CN=a + E=a@b.c ; O="Example, Inc.")") ==
        P{{"CN", "a"}, {"E", "a@b.c"}, {"O", "Example, Inc."}});
  // An escaped trailing space stays.
  CHECK(pairs(R"(CN=x\ )") == P{{"CN", "x "}});
}

TEST_CASE("a subject DN in nginx's legacy slash form", "[route][certauth]") {
  using P = std::vector<std::pair<std::string, std::string>>;
  CHECK(pairs("/C=US/O=Zimbra/CN=user one/emailAddress=user1@example.com") ==
        P{{"C", "US"}, {"O", "Zimbra"}, {"CN", "user one"}, {"emailAddress", "user1@example.com"}});
  // A '/' in a value: kept when the next part has no '='.
  CHECK(pairs("/O=A/B Corp/CN=x") == P{{"O", "A/B Corp"}, {"CN", "x"}});
}

TEST_CASE("malformed subjects are refused", "[route][certauth]") {
  for (const char* bad : {"", "   ", "CN", "=x", "CN=a,", "CN=a,O", "CN=x\\", "O=\"open",
                          "O=\"a\"b", "/noequals", "/=x"}) {
    INFO(bad);
    CHECK_FALSE(parse_subject_dn(bad));
  }
}

TEST_CASE("the e-mail attribute by any of its names", "[route][certauth]") {
  CHECK(is_email_attribute("emailAddress"));
  CHECK(is_email_attribute("EMAILADDRESS"));
  CHECK(is_email_attribute("E"));
  CHECK(is_email_attribute("1.2.840.113549.1.9.1"));
  CHECK_FALSE(is_email_attribute("CN"));
  CHECK_FALSE(is_email_attribute("mail"));
}

#include "lib/provisioning/ldif.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy;
using namespace zmproxy::provisioning;

TEST_CASE("LDIF round-trips awkward values", "[ldif]") {
  Entry e{"uid=user1,ou=people,dc=example,dc=com", {}};
  e.attrs["objectClass"] = {"inetOrgPerson", "zimbraAccount"};
  e.attrs["cn"] = {" leading space"};
  e.attrs["description"] = {"line1\nline2", "caf\xc3\xa9", ":colon", "<angle", "trailing "};
  e.attrs["zimbraReverseProxyImapEnabledCapability"] = {std::string(200, 'X')};  // folded
  e.attrs["empty"] = {""};
  std::string text = "version: 1\n\n";
  append_ldif(text, e);
  for (const auto& line : {std::string_view("dn: uid=user1"), std::string_view("objectClass: inetOrgPerson")}) {
    CHECK(text.find(line) != std::string::npos);
  }
  // No physical line longer than 76 columns.
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    CHECK(end - start <= 76);
    start = end + 1;
  }
  auto parsed = parse_ldif(text, "test.ldif");
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 1);
  CHECK(parsed->front().dn == e.dn);
  CHECK(parsed->front().attrs == e.attrs);
}

TEST_CASE("LDIF parses comments, CRLF, several records and base64 DNs", "[ldif]") {
  const std::string text =
      "# comment\r\n"
      "dn: dc=com\r\n"
      "objectClass: dcObject\r\n"
      "dc: com\r\n"
      "\r\n\r\n"
      "dn:: ZGM9ZXhhbXBsZSxkYz1jb20=\n"
      "dc: exa\n"
      " mple\n";
  auto parsed = parse_ldif(text, "t");
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 2);
  CHECK(parsed->at(1).dn == "dc=example,dc=com");
  CHECK(parsed->at(1).first("dc") == "example");
  CHECK(parsed->at(0).first("DC") == "com");
}

TEST_CASE("LDIF errors name the source and line", "[ldif]") {
  auto no_dn = parse_ldif("objectClass: x\n", "prov.ldif");
  REQUIRE_FALSE(no_dn);
  CHECK(no_dn.error().message == "prov.ldif:1: a record must start with 'dn:'");
  auto bad64 = parse_ldif("dn: dc=com\ncn:: !!!!\n", "prov.ldif");
  REQUIRE_FALSE(bad64);
  CHECK(bad64.error().message.rfind("prov.ldif:2:", 0) == 0);
  auto no_colon = parse_ldif("dn: dc=com\ngarbage\n", "p");
  REQUIRE_FALSE(no_colon);
  CHECK(no_colon.error().code == Errc::parse_error);
  auto two_dns = parse_ldif("dn: dc=com\ndn: dc=org\n", "p");
  REQUIRE_FALSE(two_dns);
}

// Found by tests/fuzz/ldif_fuzz.cpp (corpus/ldif/control_in_attribute_name):
// an attribute name with a CR was accepted and written back as it was, and a
// fold after the CR read back as a line end; such names are refused.
TEST_CASE("LDIF refuses a control character in an attribute name (fuzz ldif)", "[ldif]") {
  for (const std::string& text :
       {std::string("dn: dc=com\nna\rme: x\n"), std::string("dn: dc=com\na\0b: x\n", 18)}) {
    auto parsed = parse_ldif(text, "p.ldif");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().message == "p.ldif:2: a control character in an attribute name");
  }
}

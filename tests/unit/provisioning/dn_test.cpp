#include "lib/provisioning/dn.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::provisioning;

TEST_CASE("DN values are escaped per RFC 4514", "[dn]") {
  CHECK(escape_dn_value("plain") == "plain");
  CHECK(escape_dn_value("a,b+c") == "a\\,b\\+c");
  CHECK(escape_dn_value(" lead") == "\\ lead");
  CHECK(escape_dn_value("trail ") == "trail\\ ");
  CHECK(escape_dn_value("#x") == "\\#x");
  CHECK(escape_dn_value("q\"<>;=\\") == "q\\\"\\<\\>\\;\\=\\\\");
}

TEST_CASE("DNs split at unescaped commas and normalize", "[dn]") {
  CHECK(split_dn("uid=a\\,b, ou=people,dc=example,dc=com") ==
        std::vector<std::string>{"uid=a\\,b", "ou=people", "dc=example", "dc=com"});
  CHECK(normalize_dn("UID=User1, OU=People,DC=Example,DC=com") ==
        "uid=user1,ou=people,dc=example,dc=com");
  CHECK(split_dn("").empty());
}

TEST_CASE("parents and subtrees", "[dn]") {
  CHECK(parent_dn("uid=a,ou=people,dc=example,dc=com") == "ou=people,dc=example,dc=com");
  CHECK(parent_dn("dc=com").empty());
  CHECK(dn_is_under("uid=a,ou=people,dc=example,dc=com", "dc=Example,dc=com"));
  CHECK(dn_is_under("dc=example,dc=com", "dc=example,dc=com"));
  CHECK_FALSE(dn_is_under("dc=myexample,dc=com", "dc=example,dc=com"));
  CHECK(dn_is_under("cn=config,cn=zimbra", ""));
}

TEST_CASE("domain names map to dc= DNs", "[dn]") {
  CHECK(domain_to_dn("example.com") == "dc=example,dc=com");
  CHECK(domain_to_dn("a.b.example.org") == "dc=a,dc=b,dc=example,dc=org");
}

// Found by tests/fuzz/dn_fuzz.cpp (corpus/dn/escaped_trailing_space and
// leading_empty_rdn): the trimming of blanks around RDNs took an escaped
// trailing space and left its backslash, so "cn=a\ ,dc=com" normalized to
// "cn=a\,dc=com", one RDN fewer; and an empty first RDN lost its comma.
TEST_CASE("normalizing keeps every RDN: escaped trailing space, empty first RDN (fuzz dn)",
          "[dn]") {
  CHECK(split_dn("cn=a\\ ,dc=example,dc=com") ==
        std::vector<std::string>{"cn=a\\ ", "dc=example", "dc=com"});
  CHECK(normalize_dn("CN=A\\  , dc=com") == "cn=a\\ ,dc=com");
  CHECK(split_dn(normalize_dn("cn=a\\ ,dc=com")).size() == 2);
  CHECK(parent_dn("cn=" + escape_dn_value("x ") + ",dc=com") == "dc=com");
  CHECK(split_dn("cn=a\\\\ ,dc=com") == std::vector<std::string>{"cn=a\\\\", "dc=com"});
  // corpus/dn/leading_empty_rdn: the empty first RDN lost its comma.
  CHECK(normalize_dn(",er,BA") == ",er,ba");
  CHECK(split_dn(normalize_dn(",er,ba")).size() == 3);
}

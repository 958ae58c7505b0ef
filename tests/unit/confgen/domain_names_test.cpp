#include "lib/confgen/domain_names.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::confgen;

TEST_CASE("domain names that could leave conf/domaincerts are refused", "[confgen]") {
  for (const char* ok : {"example.com", "Mail-1.example.co.uk", "xn--bcher-kva.example", "a_b.test", "x"}) {
    CHECK(is_safe_domain_name(ok));
  }
  for (const char* bad : {"", "../../x", "..", ".", "a/b", "example.com/../../etc", "a..b", ".example.com",
                          "example.com.", "-x.example", "a b", "a\nb", "a\\b", "caf\xc3\xa9.fr"}) {
    CHECK_FALSE(is_safe_domain_name(bad));
  }
  CHECK_FALSE(is_safe_domain_name(std::string(254, 'a')));
  CHECK(is_safe_virtual_host("*.example.com"));
  CHECK_FALSE(is_safe_virtual_host("*"));
  CHECK_FALSE(is_safe_virtual_host("mail.example.com x.crt"));
}

TEST_CASE("the refusal is one line naming the domain or the virtual host", "[confgen]") {
  auto r = check_domain_certificate_names("../../x", {});
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::StartsWith("domain '../../x' "));
  CHECK(r.error().message.find('\n') == std::string::npos);
  r = check_domain_certificate_names("example.com", {"mail.example.com", "evil\nname"});
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("'evil\\x0aname'"));
  CHECK(r.error().message.find('\n') == std::string::npos);
  CHECK(check_domain_certificate_names("example.com", {"mail.example.com", "*.example.com"}));
}

#include "lib/provisioning/ldap_security.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::provisioning;

namespace {

LdapSettings with_url(std::string url) {
  LdapSettings s;
  s.url = std::move(url);
  return s;
}

}  // namespace

TEST_CASE("loopback hosts are named without resolving anything", "[ldap-security]") {
  for (const char* h : {"", "localhost", "LOCALHOST", "localhost.", "127.0.0.1", "127.1.2.3", "::1",
                        "[::1]", "::ffff:127.0.0.1"}) {
    CHECK(is_loopback_host(h));
  }
  for (const char* h : {"ldap.example.com", "10.0.0.5", "128.0.0.1", "::2", "localhost.example.com",
                        "127.0.0.1.example.com", "::ffff:10.0.0.1"}) {
    CHECK_FALSE(is_loopback_host(h));
  }
}

TEST_CASE("each URL of ldap_url gives its scheme and host", "[ldap-security]") {
  const auto t = ldap_url_targets(
      "ldap://ldap1.example.com:389/ LDAPS://[::1]:636  ldapi:///run/slapd.sock ldap:///");
  REQUIRE(t.size() == 4);
  CHECK(t[0].scheme == "ldap");
  CHECK(t[0].host == "ldap1.example.com");
  CHECK_FALSE(t[0].local);
  CHECK(t[1].scheme == "ldaps");
  CHECK(t[1].host == "::1");
  CHECK(t[1].local);
  CHECK(t[2].scheme == "ldapi");
  CHECK(t[2].local);
  CHECK(t[3].host.empty());
  CHECK(t[3].local);
}

TEST_CASE("StartTLS with certificate checks towards another host, none needed on loopback",
          "[ldap-security]") {
  SECTION("loopback keeps working without TLS") {
    const auto p = ldap_tls_policy(with_url("ldap://127.0.0.1:389"));
    CHECK_FALSE(p.start_tls);
    CHECK_FALSE(p.remote);
    CHECK(p.verify);
  }
  SECTION("another host: StartTLS, verified") {
    const auto p = ldap_tls_policy(with_url("ldap://ldap.example.com:389"));
    CHECK(p.start_tls);
    CHECK(p.remote);
    CHECK(p.verify);
  }
  SECTION("one remote URL in the list is enough") {
    CHECK(ldap_tls_policy(with_url("ldap://localhost ldap://10.0.0.5")).start_tls);
  }
  SECTION("ldaps:// is TLS already: no StartTLS, still verified and remote") {
    const auto p = ldap_tls_policy(with_url("ldaps://ldap.example.com"));
    CHECK_FALSE(p.start_tls);
    CHECK(p.remote);
    CHECK(p.verify);
  }
  SECTION("ldap_starttls_supported asks for it on loopback as well") {
    LdapSettings s = with_url("ldap://127.0.0.1:389");
    s.starttls_supported = true;
    CHECK(ldap_tls_policy(s).start_tls);
  }
  SECTION("the lab opt-outs") {
    LdapSettings s = with_url("ldap://ldap.example.com");
    s.starttls_required = false;
    CHECK_FALSE(ldap_tls_policy(s).start_tls);
    s.starttls_required = true;
    s.allow_untrusted_certs = true;
    CHECK(ldap_tls_policy(s).start_tls);
    CHECK_FALSE(ldap_tls_policy(s).verify);
  }
}

TEST_CASE("shipped default passwords are refused beyond loopback only", "[ldap-security]") {
  const std::string where = "the LDAP server at ldap://ldap.example.com";
  for (auto [key, value] :
       {std::pair{"zimbra_ldap_password", "zimbra"}, std::pair{"ldap_root_password", "zimbra"},
        std::pair{"ldap_nginx_password", "zmnginx"}}) {
    INFO(key);
    const auto refusal = shipped_password_refusal(key, value, where, true);
    REQUIRE(refusal);
    CHECK_THAT(*refusal, Catch::Contains(std::string("zmlocalconfig -e ") + key + "=<password>"));
    CHECK_THAT(*refusal, Catch::Contains(where));
    CHECK(refusal->find(std::string(" ") + value + " ") ==
          std::string::npos);  // the value is not repeated
    CHECK(refusal->find('\n') == std::string::npos);
    CHECK_FALSE(
        shipped_password_refusal(key, value, where, false));  // loopback: the lab default works
  }
  CHECK_FALSE(shipped_password_refusal("zimbra_ldap_password", "s3cret-long", where, true));
  CHECK_FALSE(shipped_password_refusal("zimbra_ldap_password", "zmnginx", where, true));
  CHECK_FALSE(shipped_password_refusal("ldap_nginx_password", "zimbra", where, true));
}

#include "lib/route/certauth_lookup.hpp"

#include "lib/provisioning/password.hpp"
#include "lib/route/lookup_token.hpp"

#include "tests/unit/route/entries.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy;
using namespace zmproxy::route;
using provisioning::Entry;
using zmproxy::test::make_entry;

namespace {

const std::string& admin_hash() {
  static const std::string h = provisioning::hash_password("zmnginx-pass");
  return h;
}

std::shared_ptr<const RouteIndex> sample() {
  std::vector<Entry> entries = {
      make_entry("cn=config,cn=zimbra", {{"objectClass", {"zimbraGlobalConfig"}},
                                         {"zimbraDefaultDomainName", {"example.com"}},
                                         {"zimbraReverseProxyAuthWaitInterval", {"7s"}},
                                         {"zimbraReverseProxyAdminIPAddress", {"127.0.0.1"}}}),
      make_entry("cn=mbox1,cn=servers,cn=zimbra", {{"objectClass", {"zimbraServer"}},
                                                   {"cn", {"mbox1"}},
                                                   {"zimbraServiceHostname", {"mbox1.example.com"}},
                                                   {"zimbraMailPort", {"18080"}},
                                                   {"zimbraMailSSLPort", {"18443"}},
                                                   {"zimbraAdminPort", {"17071"}}}),
      make_entry("dc=example,dc=com",
                 {{"objectClass", {"zimbraDomain"}}, {"zimbraDomainName", {"example.com"}}}),
      make_entry("uid=alice,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"alice@example.com"}},
                  {"zimbraMailAlias", {"al@example.com"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-000000000001"}},
                  {"zimbraMailHost", {"mbox1.example.com"}}}),
      make_entry("uid=zmnginx,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"zmnginx@example.com"}},
                  {"zimbraIsAdminAccount", {"TRUE"}},
                  {"zimbraMailHost", {"mbox1.example.com"}},
                  {"userPassword", {admin_hash()}}}),
  };
  return RouteIndex::from_entries(std::move(entries));
}

LookupRequest certauth(std::string subject = "emailAddress=alice@example.com,CN=Alice,O=Example") {
  LookupRequest r;
  r.method = "certauth";
  r.user = std::move(subject);
  r.protocol = "httpssl";
  r.proxy_ip = "127.0.0.1";
  r.client_ip = "192.0.2.1";
  r.admin_user = "zmnginx";
  r.admin_pass = "zmnginx-pass";
  return r;
}

const TokenCaller k_caller{"127.0.0.1", "lookup-secret", 5000};

}  // namespace

TEST_CASE("a certauth request needs every header, bounded and without control bytes",
          "[route][certauth]") {
  CHECK(check_certauth_request(certauth()));
  const std::pair<std::string, std::string LookupRequest::*> fields[] = {
      {"Auth-User", &LookupRequest::user},
      {"Auth-Admin-User", &LookupRequest::admin_user},
      {"Auth-Admin-Pass", &LookupRequest::admin_pass},
      {"X-Proxy-IP", &LookupRequest::proxy_ip},
  };
  for (const auto& [name, field] : fields) {
    auto r = certauth();
    r.*field = "";
    auto checked = check_certauth_request(r);
    REQUIRE_FALSE(checked);
    CHECK(checked.error().message == "(CERTAUTH) missing header field " + name);
    r.*field = "x\ny";
    checked = check_certauth_request(r);
    REQUIRE_FALSE(checked);
    CHECK(checked.error().message == "(CERTAUTH) invalid header field " + name);
    r.*field = std::string(2000, 'a');
    CHECK_FALSE(check_certauth_request(r));
  }
  auto r = certauth(std::string(1000, 'a'));  // a subject may be longer than a name
  CHECK(check_certauth_request(r));
}

TEST_CASE("the certificate's account: its emailAddress names an address or an alias",
          "[route][certauth]") {
  auto index = sample();
  for (const char* subject :
       {"emailAddress=alice@example.com,CN=Alice", "CN=Alice,emailAddress=ALICE@Example.COM",
        "E=al@example.com", "1.2.840.113549.1.9.1=alice@example.com",
        "/C=US/CN=Alice/emailAddress=alice@example.com",
        // the first address that names an account wins
        "emailAddress=nobody@example.com+emailAddress=alice@example.com"}) {
    INFO(subject);
    auto a = certauth_account(subject, *index);
    REQUIRE(a);
    CHECK((*a)->first("zimbraMailDeliveryAddress") == "alice@example.com");
  }
  // The CN is not an address, and a bare name is not qualified.
  for (const char* subject : {"CN=alice@example.com", "emailAddress=alice", "O=Example"}) {
    INFO(subject);
    auto a = certauth_account(subject, *index);
    REQUIRE_FALSE(a);
    CHECK(a.error().message == "account not found: " + std::string(subject));
  }
  auto bad = certauth_account("CN", *index);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.rfind("invalid X509 subject: ", 0) == 0);
}

TEST_CASE("a certauth lookup answers the account's web route and a token", "[route][certauth]") {
  auto index = sample();
  const LookupAnswer a = handle_certauth_lookup(certauth("E=al@example.com"), *index, "", k_caller);
  REQUIRE(a.response.ok);
  CHECK(a.response.server == "mbox1.example.com");
  CHECK(a.response.port == 18443);
  CHECK(a.response.user == "alice@example.com");
  CHECK(a.response.auth_id.empty());
  CHECK(verify_lookup_token(a.response.token, "alice@example.com", 5060, "lookup-secret"));
  auto plain = certauth();
  plain.protocol = "http";
  CHECK(handle_certauth_lookup(plain, *index, "", k_caller).response.port == 18080);
}

TEST_CASE("every certauth refusal is an error answer without a token", "[route][certauth]") {
  auto index = sample();
  auto status = [&](const LookupRequest& r, const TokenCaller& c = k_caller) {
    const LookupAnswer a = handle_certauth_lookup(r, *index, "", c);
    CHECK_FALSE(a.response.ok);
    CHECK(a.response.token.empty());
    CHECK(a.response.wait_seconds == 7);
    return a.response.status;
  };
  auto r = certauth();
  r.admin_pass = "wrong";
  CHECK(status(r) == "nginx admin authentication failed");
  r = certauth();
  r.proxy_ip = "192.0.2.9";
  CHECK(status(r) == "X-Proxy-IP 192.0.2.9 is not allowed");
  CHECK(status(certauth(), TokenCaller{"127.0.0.9", "lookup-secret", 5000})
            .rfind("lookup peer 127.0.0.9 is not allowed", 0) == 0);
  CHECK(status(certauth(), TokenCaller{"127.0.0.1", "", 5000})
            .rfind("certauth lookups need zmlookupd_secret", 0) == 0);
  CHECK(status(certauth("CN=Mallory,emailAddress=mallory@example.com")) ==
        "account not found: CN=Mallory,emailAddress=mallory@example.com");
  r = certauth();
  r.protocol = "smtp";
  CHECK(status(r) == "unsupported protocol: smtp");
  r = certauth();
  r.admin_user = "";
  CHECK(status(r) == "(CERTAUTH) missing header field Auth-Admin-User");
}

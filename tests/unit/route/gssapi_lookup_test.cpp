#include "lib/route/gssapi_lookup.hpp"

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

std::shared_ptr<const RouteIndex> sample(std::vector<std::string> admin_ips = {"127.0.0.1",
                                                                               "10.1.0.0/16"}) {
  std::vector<Entry> entries = {
      make_entry("cn=config,cn=zimbra", {{"objectClass", {"zimbraGlobalConfig"}},
                                         {"zimbraDefaultDomainName", {"example.com"}},
                                         {"zimbraReverseProxyAuthWaitInterval", {"7s"}}}),
      make_entry("cn=mbox1,cn=servers,cn=zimbra", {{"objectClass", {"zimbraServer"}},
                                                   {"cn", {"mbox1"}},
                                                   {"zimbraServiceHostname", {"mbox1.example.com"}},
                                                   {"zimbraImapBindPort", {"17143"}},
                                                   {"zimbraPop3BindPort", {"17110"}}}),
      make_entry("dc=example,dc=com",
                 {{"objectClass", {"zimbraDomain"}}, {"zimbraDomainName", {"example.com"}}}),
      make_entry("uid=alice,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"alice@example.com"}},
                  {"zimbraMailAlias", {"al@example.com"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-000000000001"}},
                  {"zimbraMailHost", {"mbox1.example.com"}},
                  {"zimbraForeignPrincipal", {"kerberos5:alice@ZMPROXY.TEST"}}}),
      make_entry("uid=bob,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"bob@example.com"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-000000000002"}},
                  {"zimbraMailHost", {"mbox1.example.com"}}}),
      make_entry("uid=zmnginx,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"zmnginx@example.com"}},
                  {"zimbraIsAdminAccount", {"TRUE"}},
                  {"userPassword", {admin_hash()}}}),
      make_entry("uid=plain,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"plain@example.com"}},
                  {"userPassword", {admin_hash()}}}),
  };
  if (!admin_ips.empty()) {
    entries[0].attrs["zimbraReverseProxyAdminIPAddress"] = admin_ips;
  }
  return RouteIndex::from_entries(std::move(entries));
}

LookupRequest gssapi(std::string user = "alice@ZMPROXY.TEST") {
  LookupRequest r;
  r.method = "gssapi";
  r.user = std::move(user);
  r.auth_id = "alice@ZMPROXY.TEST";
  r.protocol = "imap";
  r.proxy_ip = "127.0.0.1";
  r.client_ip = "192.0.2.1";
  r.admin_user = "zmnginx";
  r.admin_pass = "zmnginx-pass";
  return r;
}

const GssapiCaller k_caller{"127.0.0.1", "lookup-secret", 5000};

}  // namespace

TEST_CASE("a gssapi request needs every header, bounded and without control bytes",
          "[route][gssapi]") {
  CHECK(check_gssapi_request(gssapi()));
  const std::pair<std::string, std::string LookupRequest::*> fields[] = {
      {"Auth-ID", &LookupRequest::auth_id},
      {"Auth-User", &LookupRequest::user},
      {"Auth-Admin-User", &LookupRequest::admin_user},
      {"Auth-Admin-Pass", &LookupRequest::admin_pass},
      {"X-Proxy-IP", &LookupRequest::proxy_ip},
  };
  for (const auto& [name, field] : fields) {
    auto r = gssapi();
    r.*field = "";
    auto checked = check_gssapi_request(r);
    REQUIRE_FALSE(checked);
    CHECK(checked.error().message == "(GSSAPI) missing header field " + name);
    r.*field = "x\x01y";
    checked = check_gssapi_request(r);
    REQUIRE_FALSE(checked);
    CHECK(checked.error().message == "(GSSAPI) invalid header field " + name);
    r.*field = std::string(2000, 'a');
    CHECK_FALSE(check_gssapi_request(r));
  }
  auto r = gssapi();
  r.admin_pass = std::string(1024, 'p');  // a password may be longer than a name
  CHECK(check_gssapi_request(r));
  r.auth_id = std::string(257, 'a');
  CHECK_FALSE(check_gssapi_request(r));
}

TEST_CASE("the gssapi caller: X-Proxy-IP and the TCP peer both in the admin IP list",
          "[route][gssapi]") {
  auto index = sample();
  CHECK(check_token_caller(gssapi(), *index, "127.0.0.1"));
  CHECK(check_token_caller(gssapi(), *index, "10.1.2.3"));  // a CIDR entry
  auto r = gssapi();
  r.proxy_ip = "127.0.0.2";
  auto refused = check_token_caller(r, *index, "127.0.0.1");  // header not allowed, peer is
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message == "X-Proxy-IP 127.0.0.2 is not allowed");
  refused = check_token_caller(gssapi(), *index, "127.0.0.3");  // header allowed, peer not
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message ==
        "lookup peer 127.0.0.3 is not allowed (not in zimbraReverseProxyAdminIPAddress)");
  r.proxy_ip = "not an address";
  CHECK_FALSE(check_token_caller(r, *index, "127.0.0.1"));
  // Nothing configured: nobody may mint tokens.
  CHECK_FALSE(check_token_caller(gssapi(), *sample({}), "127.0.0.1"));
}

TEST_CASE("the nginx admin: an admin account whose password matches", "[route][gssapi]") {
  auto index = sample();
  CHECK(admin_credentials_ok(*index, "zmnginx", "zmnginx-pass"));
  CHECK(admin_credentials_ok(*index, "ZMNGINX@example.com", "zmnginx-pass"));
  CHECK_FALSE(admin_credentials_ok(*index, "zmnginx", "zmnginx-pas"));
  CHECK_FALSE(admin_credentials_ok(*index, "zmnginx", ""));
  CHECK_FALSE(admin_credentials_ok(*index, "plain", "zmnginx-pass"));  // not an admin
  CHECK_FALSE(admin_credentials_ok(*index, "alice", "zmnginx-pass"));  // no password
  CHECK_FALSE(admin_credentials_ok(*index, "nobody", "zmnginx-pass"));
}

TEST_CASE("gssapi authorization: the principal's account, as itself or by its own names",
          "[route][gssapi]") {
  auto index = sample();
  auto authz = authorize_gssapi(gssapi(), *index);
  REQUIRE(authz);
  CHECK(authz->user == "alice@example.com");
  for (const char* same : {"alice", "alice@example.com", "ALICE@Example.com", "al@example.com"}) {
    auto a = authorize_gssapi(gssapi(same), *index);
    REQUIRE(a);
    CHECK(a->user == "alice@example.com");
  }
  auto other = authorize_gssapi(gssapi("bob"), *index);
  REQUIRE_FALSE(other);
  CHECK(other.error().message == "authorization failed for bob@example.com");
  auto r = gssapi();
  r.auth_id = "ALICE@ZMPROXY.TEST";  // principals are case-sensitive
  r.user = r.auth_id;
  auto unknown = authorize_gssapi(r, *index);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message ==
        "No account was found which has kerberos principal ALICE@ZMPROXY.TEST");
}

TEST_CASE("a gssapi lookup answers the route, the account and a token", "[route][gssapi]") {
  auto index = sample();
  const LookupAnswer a = handle_gssapi_lookup(gssapi(), *index, "", k_caller);
  REQUIRE(a.response.ok);
  CHECK(a.response.server == "mbox1.example.com");
  CHECK(a.response.port == 17143);
  CHECK(a.response.user == "alice@example.com");
  CHECK(a.response.auth_id == "alice@example.com");
  CHECK(verify_lookup_token(a.response.token, "alice@example.com", 5000 + 60, "lookup-secret"));
  CHECK_FALSE(verify_lookup_token(a.response.token, "alice@example.com", 5061, "lookup-secret"));
  auto pop = gssapi();
  pop.protocol = "pop3";
  CHECK(handle_gssapi_lookup(pop, *index, "", k_caller).response.port == 17110);
}

TEST_CASE("every gssapi refusal is an error answer with Zimbra's text", "[route][gssapi]") {
  auto index = sample();
  auto status = [&](const LookupRequest& r, const GssapiCaller& c = k_caller) {
    const LookupAnswer a = handle_gssapi_lookup(r, *index, "", c);
    CHECK_FALSE(a.response.ok);
    CHECK(a.response.token.empty());
    CHECK(a.response.wait_seconds == 7);
    return a.response.status;
  };
  auto r = gssapi();
  r.admin_pass = "wrong";
  CHECK(status(r) == "nginx admin authentication failed");
  r = gssapi();
  r.proxy_ip = "192.0.2.9";
  CHECK(status(r) == "X-Proxy-IP 192.0.2.9 is not allowed");
  CHECK(status(gssapi(), GssapiCaller{"127.0.0.9", "lookup-secret", 5000})
            .rfind("lookup peer 127.0.0.9 is not allowed", 0) == 0);
  CHECK(status(gssapi(), GssapiCaller{"127.0.0.1", "", 5000})
            .rfind("gssapi lookups need zmlookupd_secret", 0) == 0);
  CHECK(status(gssapi("bob")) == "authorization failed for bob@example.com");
  r = gssapi();
  r.auth_id = "carol@ZMPROXY.TEST";
  CHECK(status(r) == "No account was found which has kerberos principal carol@ZMPROXY.TEST");
  r = gssapi();
  r.admin_user.clear();
  CHECK(status(r) == "(GSSAPI) missing header field Auth-Admin-User");
  // The caller is checked before the principal: an unknown caller learns
  // nothing about which principals exist.
  r = gssapi();
  r.auth_id = "carol@ZMPROXY.TEST";
  r.admin_pass = "wrong";
  CHECK(status(r) == "nginx admin authentication failed");
}

TEST_CASE("handle_lookup alone still refuses gssapi", "[route][gssapi]") {
  auto index = sample();
  CHECK_FALSE(handle_lookup(gssapi(), *index, "").response.ok);
}

TEST_CASE("a gssapi request parses from nginx's headers, any case", "[route][gssapi]") {
  const Headers h = {{"Auth-Method", "GSSAPI"},           {"auth-user", "alice@ZMPROXY.TEST"},
                     {"Auth-Pass", "_password_"},         {"Auth-Protocol", "imap"},
                     {"X-Proxy-IP", "127.0.0.1"},         {"Client-IP", "192.0.2.1"},
                     {"AUTH-ID", " alice@ZMPROXY.TEST "}, {"auth-admin-user", "zmnginx"},
                     {"Auth-Admin-Pass", "p%40ss word"}};
  auto r = parse_lookup_request(h);
  REQUIRE(r);
  CHECK(r->method == "gssapi");
  CHECK(r->auth_id == "alice@ZMPROXY.TEST");
  CHECK(r->admin_user == "zmnginx");
  CHECK(r->admin_pass == "p%40ss word");  // sent as is, not percent-decoded
  CHECK(check_gssapi_request(*r));
  Headers missing = h;
  missing.erase(missing.begin() + 6);  // no Auth-ID
  r = parse_lookup_request(missing);
  REQUIRE(r);
  auto checked = check_gssapi_request(*r);
  REQUIRE_FALSE(checked);
  CHECK(checked.error().message == "(GSSAPI) missing header field Auth-ID");
}

TEST_CASE("a gssapi answer carries Auth-User, Auth-ID and the token on the wire",
          "[route][gssapi]") {
  auto index = sample();
  const LookupAnswer a = handle_gssapi_lookup(gssapi(), *index, "", k_caller);
  REQUIRE(a.response.ok);
  const std::string wire = format_lookup_response(a.response);
  CHECK(wire.find("Auth-User: alice@example.com\r\n") != std::string::npos);
  CHECK(wire.find("Auth-ID: alice@example.com\r\n") != std::string::npos);
  CHECK(wire.find("Auth-Pass: " + a.response.token + "\r\n") != std::string::npos);
}

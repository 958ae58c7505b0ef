#include "lib/route/lookup_handler.hpp"

#include "tests/unit/route/entries.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy;
using namespace zmproxy::route;
using provisioning::Entry;
using zmproxy::test::make_entry;

namespace {

std::shared_ptr<const RouteIndex> sample(std::vector<Entry> extra = {}) {
  std::vector<Entry> entries = {
      make_entry("cn=config,cn=zimbra", {{"objectClass", {"zimbraGlobalConfig"}},
                                         {"zimbraDefaultDomainName", {"example.com"}},
                                         {"zimbraMailSSLPort", {"8443"}}}),
      make_entry("cn=mbox1,cn=servers,cn=zimbra", {{"objectClass", {"zimbraServer"}},
                                                   {"cn", {"mbox1"}},
                                                   {"zimbraServiceHostname", {"mbox1.example.com"}},
                                                   {"zimbraImapBindPort", {"17143"}},
                                                   {"zimbraMailPort", {"8080"}}}),
      make_entry("cn=mbox2,cn=servers,cn=zimbra",
                 {{"objectClass", {"zimbraServer"}},
                  {"cn", {"mbox2"}},
                  {"zimbraServiceHostname", {"mbox2.example.com"}}}),
      make_entry("dc=example,dc=com", {{"objectClass", {"zimbraDomain"}},
                                       {"zimbraDomainName", {"example.com"}},
                                       {"zimbraId", {"d0000000-0000-4000-8000-000000000001"}},
                                       {"zimbraVirtualHostname", {"mail.example.com"}},
                                       {"zimbraVirtualIPAddress", {"10.0.0.9"}}}),
      make_entry("dc=other,dc=org", {{"objectClass", {"zimbraDomain"}},
                                     {"zimbraDomainName", {"other.org"}},
                                     {"zimbraVirtualIPAddress", {"10.0.0.8"}},
                                     {"zimbraDomainAllowedIPs", {"192.0.2.0/24"}}}),
      make_entry("dc=alias,dc=net",
                 {{"objectClass", {"zimbraDomain"}},
                  {"zimbraDomainName", {"alias.net"}},
                  {"zimbraDomainType", {"alias"}},
                  {"zimbraDomainAliasTargetId", {"d0000000-0000-4000-8000-000000000001"}}}),
      make_entry("uid=user1,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"user1@example.com"}},
                  {"zimbraMailAlias", {"first@example.com"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-000000000001"}},
                  {"zimbraMailHost", {"mbox1.example.com"}}}),
      make_entry("uid=user2,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"user2@example.com"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-000000000002"}},
                  {"zimbraMailHost", {"mbox2.example.com"}}}),
      make_entry("uid=bob,ou=people,dc=other,dc=org",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"bob@other.org"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-000000000003"}},
                  {"zimbraMailHost", {"mbox2.example.com"}}}),
  };
  for (auto& e : extra) {
    entries.push_back(std::move(e));
  }
  return RouteIndex::from_entries(std::move(entries));
}

LookupRequest req(std::string user, std::string protocol) {
  LookupRequest r;
  r.user = std::move(user);
  r.protocol = std::move(protocol);
  r.client_ip = "192.0.2.50";
  r.proxy_ip = "127.0.0.1";
  return r;
}

}  // namespace

TEST_CASE("ports per protocol follow the indirection, server then global then default", "[route][handler]") {
  auto index = sample();
  const std::pair<const char*, int> cases[] = {
      {"imap", 17143}, {"imapssl", 7993}, {"pop3", 7110}, {"pop3ssl", 7995},
      {"http", 8080},  {"httpssl", 8443}};
  for (const auto& [proto, port] : cases) {
    INFO(proto);
    auto a = handle_lookup(req("user1@example.com", proto), *index, "");
    REQUIRE(a.response.ok);
    CHECK(a.response.server == "mbox1.example.com");
    CHECK(a.response.port == port);
    CHECK(a.response.user == "user1@example.com");
    CHECK(a.response.cache_alias);
    CHECK(a.resolve_host);  // zimbraReverseProxyDnsLookupInServerEnabled defaults to TRUE
  }
  auto admin = req("user1@example.com", "httpssl");
  admin.admin = true;
  CHECK_FALSE(handle_lookup(admin, *index, "").response.ok);  // not an admin account
}

TEST_CASE("names: aliases, bare names, virtual IP and host, zimbraId, alias domains", "[route][handler]") {
  auto index = sample();
  auto server_of = [&](LookupRequest r) {
    auto a = handle_lookup(r, *index, "");
    return a.response.ok ? a.response.server + " " + a.response.user : "error: " + a.response.status;
  };
  CHECK(server_of(req("first@example.com", "imap")) == "mbox1.example.com user1@example.com");
  CHECK(server_of(req("USER2@Example.COM", "imap")) == "mbox2.example.com user2@example.com");
  CHECK(server_of(req("user2", "imap")) == "mbox2.example.com user2@example.com");  // default domain
  auto vip = req("bob", "pop3");
  vip.proxy_ip = "10.0.0.8";
  CHECK(server_of(vip) == "mbox2.example.com bob@other.org");
  auto vhost = req("user1", "http");
  vhost.proxy_host = "mail.example.com:443";
  CHECK(server_of(vhost) == "mbox1.example.com user1@example.com");
  auto by_id = req("a0000000-0000-4000-8000-000000000002", "httpssl");
  by_id.method = "zimbraid";
  CHECK(server_of(by_id) == "mbox2.example.com user2@example.com");
  CHECK(server_of(req("user1@alias.net", "imap")) == "mbox1.example.com user1@example.com");
}

TEST_CASE("unknown users get an error status with the auth wait", "[route][handler]") {
  auto index =
      sample({make_entry("cn=config,cn=zimbra", {{"objectClass", {"zimbraGlobalConfig"}},
                                                 {"zimbraReverseProxyAuthWaitInterval", {"3s"}}})});
  auto a = handle_lookup(req("ghost@example.com", "imap"), *index, "");
  CHECK_FALSE(a.response.ok);
  CHECK(a.response.status == "user not found:ghost@example.com");
  CHECK(a.response.wait_seconds == 3);
  CHECK(format_lookup_response(a.response) ==
        "Auth-Status: user not found:ghost@example.com\r\nAuth-Wait: 3\r\n");
}

TEST_CASE("zimbraDomainAllowedIPs limits clients", "[route][handler]") {
  auto index = sample();
  auto r = req("bob@other.org", "imap");
  r.client_ip = "198.51.100.1";
  auto a = handle_lookup(r, *index, "");
  CHECK_FALSE(a.response.ok);
  CHECK(a.response.status == "Client-IP 198.51.100.1 is not allowed on this domain");
  r.client_ip = "192.0.2.77";
  CHECK(handle_lookup(r, *index, "").response.ok);
  CHECK(ip_allowed("2001:db8::5", {"2001:db8::/32"}));
  CHECK_FALSE(ip_allowed("2001:db9::5", {"2001:db8::/32"}));
  CHECK(ip_allowed("10.1.2.3", {"10.1.2.3"}));
  CHECK_FALSE(ip_allowed("not-an-ip", {"0.0.0.0/0"}));
}

TEST_CASE("external routes and IMAP upstream pools", "[route][handler]") {
  auto index = sample({
      make_entry("uid=ext,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"ext@example.com"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-00000000000e"}},
                  {"zimbraMailHost", {"mbox1.example.com"}},
                  {"zimbraReverseProxyUseExternalRoute", {"TRUE"}},
                  {"zimbraExternalImapHostname", {"legacy.example.net"}},
                  {"zimbraExternalImapPort", {"143"}}}),
      make_entry("cn=pool,cn=servers,cn=zimbra", {{"objectClass", {"zimbraServer"}},
                                                  {"cn", {"pool"}},
                                                  {"zimbraServiceHostname", {"mbox3.example.com"}},
                                                  {"zimbraReverseProxyUpstreamImapServers",
                                                   {"imapd1.example.com", "imapd2.example.com"}}}),
      make_entry("uid=pooled,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"pooled@example.com"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-00000000000f"}},
                  {"zimbraMailHost", {"mbox3.example.com"}}}),
  });
  auto ext = handle_lookup(req("ext@example.com", "imap"), *index, "");
  REQUIRE(ext.response.ok);
  CHECK(ext.response.server == "legacy.example.net");
  CHECK(ext.response.port == 143);
  // POP3 has no external route configured: the internal one is used.
  CHECK(handle_lookup(req("ext@example.com", "pop3"), *index, "").response.server == "mbox1.example.com");

  auto pooled = handle_lookup(req("pooled@example.com", "imap"), *index, "");
  REQUIRE(pooled.response.ok);
  const std::size_t pick = account_id_hash("a0000000-0000-4000-8000-00000000000f", 2);
  CHECK(pooled.response.server == (pick == 0 ? "imapd1.example.com" : "imapd2.example.com"));
  CHECK(pooled.response.port == 8143);
  CHECK(handle_lookup(req("pooled@example.com", "imapssl"), *index, "").response.port == 8993);
  CHECK(handle_lookup(req("pooled@example.com", "pop3"), *index, "").response.server == "mbox3.example.com");
}

TEST_CASE("AccountIdHash is Java's String.hashCode", "[route][handler]") {
  // "hello".hashCode() == 99162322 in Java.
  CHECK(account_id_hash("hello", 1000000007) == 99162322);
  // "polygenelubricants".hashCode() == Integer.MIN_VALUE: no negative index.
  CHECK(account_id_hash("polygenelubricants", 7) < 7);
}

TEST_CASE("unsupported protocols and methods", "[route][handler]") {
  auto index = sample();
  CHECK_FALSE(handle_lookup(req("user1@example.com", "smtp"), *index, "").response.ok);
  auto g = req("user1@example.com", "imap");
  g.method = "gssapi";
  CHECK_FALSE(handle_lookup(g, *index, "").response.ok);
}

namespace {

// The sample's global config with `extra` attributes added (an index keeps
// the last global config it is given).
Entry global_with(std::initializer_list<std::pair<const char*, std::vector<std::string>>> extra) {
  Entry g = make_entry("cn=config,cn=zimbra", {{"objectClass", {"zimbraGlobalConfig"}},
                                               {"zimbraDefaultDomainName", {"example.com"}},
                                               {"zimbraMailSSLPort", {"8443"}}});
  for (const auto& [k, v] : extra) {
    g.attrs[k] = v;
  }
  return g;
}

std::string outcome(const LookupAnswer& a) {
  return a.response.ok ? a.response.server + ":" + std::to_string(a.response.port) + " " + a.response.user
                       : "error: " + a.response.status;
}

}  // namespace

TEST_CASE("requests the handler refuses before any lookup", "[route][handler]") {
  auto index = sample();
  CHECK(outcome(handle_lookup(req("", "imap"), *index, "")) == "error: missing header field Auth-User");
  CHECK(outcome(handle_lookup(req("u", "smtp"), *index, "")) == "error: unsupported protocol: smtp");
  auto cert = req("user1@example.com", "imap");
  cert.method = "certauth";
  CHECK(outcome(handle_lookup(cert, *index, "")) ==
        "error: certauth lookups are not supported by this handler");
  const auto a = handle_lookup(req("", "imap"), *index, "");
  CHECK(a.response.wait_seconds == 10);  // zimbraReverseProxyAuthWaitInterval's default
  CHECK_FALSE(a.resolve_host);
}

TEST_CASE("zimbraId lookups: found by id whatever its case, else the id as sent", "[route][handler]") {
  auto index = sample();
  auto r = req("A0000000-0000-4000-8000-000000000001", "http");
  r.method = "zimbraid";
  CHECK(outcome(handle_lookup(r, *index, "")) == "mbox1.example.com:8080 user1@example.com");
  r.user = "A0000000-0000-4000-8000-0000000000FF";
  CHECK(outcome(handle_lookup(r, *index, "")) ==
        "error: account not found:A0000000-0000-4000-8000-0000000000FF");
  // A name is not an id.
  r.user = "user1@example.com";
  CHECK(outcome(handle_lookup(r, *index, "")) == "error: account not found:user1@example.com");
}

TEST_CASE("a bare name without a default domain stays bare and is not found", "[route][handler]") {
  auto index =
      sample({make_entry("cn=config,cn=zimbra", {{"objectClass", {"zimbraGlobalConfig"}}})});
  CHECK(outcome(handle_lookup(req("User1", "imap"), *index, "")) == "error: user not found:user1");
  // An unknown proxy address falls back to the default domain (here none).
  auto vip = req("bob", "pop3");
  vip.proxy_ip = "10.9.9.9";
  CHECK(outcome(handle_lookup(vip, *index, "")) == "error: user not found:bob");
}

TEST_CASE("cache alias only for accounts of the default domain", "[route][handler]") {
  auto index = sample();
  CHECK(handle_lookup(req("first@example.com", "imap"), *index, "").response.cache_alias);
  const auto bob = handle_lookup(req("bob@other.org", "imap"), *index, "");
  REQUIRE(bob.response.ok);
  CHECK_FALSE(bob.response.cache_alias);
}

TEST_CASE("admin lookups need an admin or delegated admin account", "[route][handler]") {
  auto index = sample({
      make_entry("uid=admin,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"admin@example.com"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-0000000000a1"}},
                  {"zimbraMailHost", {"mbox1.example.com"}},
                  {"zimbraIsAdminAccount", {"TRUE"}}}),
      make_entry("uid=deleg,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"deleg@example.com"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-0000000000a2"}},
                  {"zimbraMailHost", {"mbox2.example.com"}},
                  {"zimbraIsDelegatedAdminAccount", {"TRUE"}}}),
  });
  for (const char* user : {"admin@example.com", "deleg@example.com"}) {
    auto r = req(user, "httpssl");
    r.admin = true;
    const auto a = handle_lookup(r, *index, "");
    INFO(user);
    REQUIRE(a.response.ok);
    CHECK(a.response.port == 7071);  // zimbraReverseProxyAdminPortAttribute -> zimbraAdminPort
  }
  auto plain = req("user1@example.com", "httpssl");
  plain.admin = true;
  CHECK(outcome(handle_lookup(plain, *index, "")) == "error: not an admin account: user1@example.com");
}

TEST_CASE("zx lookups go to the mailbox's zx ports", "[route][handler]") {
  auto index = sample();
  auto r = req("user1@example.com", "http");
  r.zx = true;
  CHECK(outcome(handle_lookup(r, *index, "")) == "mbox1.example.com:8742 user1@example.com");
  r.protocol = "httpssl";
  CHECK(outcome(handle_lookup(r, *index, "")) == "mbox1.example.com:8743 user1@example.com");
}

TEST_CASE("an account without a mail host, or a server without the port, is an error", "[route][handler]") {
  auto index = sample({
      global_with({{"zimbraReverseProxyPop3PortAttribute", {"zimbraNoSuchPortAttribute"}}}),
      make_entry("uid=homeless,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"homeless@example.com"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-0000000000b1"}}}),
  });
  CHECK(outcome(handle_lookup(req("homeless@example.com", "imap"), *index, "")) ==
        "error: mailhost not found for user homeless@example.com");
  CHECK(outcome(handle_lookup(req("user1@example.com", "pop3"), *index, "")) ==
        "error: no pop3 port configured for server mbox1.example.com");
}

TEST_CASE("the answer's user: the account name, or the attribute zimbraReverseProxyUserNameAttribute names",
          "[route][handler]") {
  auto index = sample({
      global_with({{"zimbraReverseProxyUserNameAttribute", {"uid"}}}),
      make_entry("uid=carol,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"uid", {"carol"}},
                  {"zimbraMailDeliveryAddress", {"carol@example.com"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-0000000000c1"}},
                  {"zimbraMailHost", {"mbox1.example.com"}}}),
  });
  CHECK(outcome(handle_lookup(req("Carol@Example.com", "imap"), *index, "")) ==
        "mbox1.example.com:17143 carol");
  // Accounts without the attribute keep their name.
  CHECK(outcome(handle_lookup(req("first@example.com", "imap"), *index, "")) ==
        "mbox1.example.com:17143 user1@example.com");
}

TEST_CASE("a domain's external route: for its accounts, and for unknown users if it says so",
          "[route][handler]") {
  auto domain = [](bool include_login) {
    return make_entry("dc=ext,dc=org",
                      {{"objectClass", {"zimbraDomain"}},
                       {"zimbraDomainName", {"ext.org"}},
                       {"zimbraReverseProxyUseExternalRoute", {"TRUE"}},
                       {"zimbraReverseProxyUseExternalRouteIfAccountNotExist", {"TRUE"}},
                       {"zimbraReverseProxyExternalRouteIncludeOriginalAuthusername",
                        {include_login ? "TRUE" : "FALSE"}},
                       {"zimbraExternalPop3Hostname", {"pop.ext.org"}},
                       {"zimbraExternalPop3Port", {"1110"}}});
  };
  const Entry dave = make_entry("uid=dave,ou=people,dc=ext,dc=org",
                                {{"objectClass", {"zimbraAccount"}},
                                 {"zimbraMailDeliveryAddress", {"dave@ext.org"}},
                                 {"zimbraId", {"a0000000-0000-4000-8000-0000000000d1"}},
                                 {"zimbraMailHost", {"mbox2.example.com"}}});
  SECTION("the account name, or the login as sent") {
    auto plain = sample({domain(false), dave});
    CHECK(outcome(handle_lookup(req("Dave@Ext.org", "pop3"), *plain, "")) == "pop.ext.org:1110 dave@ext.org");
    auto include = sample({domain(true), dave});
    const auto a = handle_lookup(req("Dave@Ext.org", "pop3"), *include, "");
    CHECK(outcome(a) == "pop.ext.org:1110 Dave@Ext.org");
    CHECK_FALSE(a.resolve_host);  // an external route is not resolved by the handler
  }
  SECTION("a protocol without an external server takes the internal route") {
    auto index = sample({domain(false), dave});
    CHECK(outcome(handle_lookup(req("dave@ext.org", "imap"), *index, "")) ==
          "mbox2.example.com:7143 dave@ext.org");
    CHECK(outcome(handle_lookup(req("dave@ext.org", "http"), *index, "")) ==
          "mbox2.example.com:80 dave@ext.org");
  }
  SECTION("an unknown user of the domain") {
    auto index = sample({domain(false)});
    const auto a = handle_lookup(req("Nobody@Ext.org", "pop3"), *index, "");
    CHECK(outcome(a) == "pop.ext.org:1110 Nobody@Ext.org");
    CHECK_FALSE(a.response.cache_alias);
    CHECK(outcome(handle_lookup(req("nobody@ext.org", "imap"), *index, "")) ==
          "error: user not found:nobody@ext.org");
    CHECK(outcome(handle_lookup(req("nobody@ext.org", "http"), *index, "")) ==
          "error: user not found:nobody@ext.org");
  }
}

TEST_CASE("the handler's own server decides host resolution and its IP mode", "[route][handler]") {
  auto index = sample({make_entry("cn=proxy1,cn=servers,cn=zimbra",
                                  {{"objectClass", {"zimbraServer"}},
                                   {"cn", {"proxy1"}},
                                   {"zimbraReverseProxyDnsLookupInServerEnabled", {"FALSE"}},
                                   {"zimbraIPMode", {"ipv6"}}})});
  const auto own = handle_lookup(req("user1@example.com", "imap"), *index, "proxy1");
  CHECK_FALSE(own.resolve_host);
  CHECK(own.ip_mode == "ipv6");
  const auto unknown = handle_lookup(req("user1@example.com", "imap"), *index, "elsewhere");
  CHECK(unknown.resolve_host);
  CHECK(unknown.ip_mode == "ipv4");
}

TEST_CASE("custom lookup queries are searched, with the user escaped", "[route][handler]") {
  auto index = sample({global_with(
      {{"zimbraReverseProxyMailHostQuery", {"(zimbraMailDeliveryAddress=${USER})"}},
       {"zimbraReverseProxyPortQuery", {"(&(cn=${MAILHOST})(objectClass=zimbraServer))"}},
       {"zimbraReverseProxyDomainNameQuery", {"(zimbraDomainName=${IPADDR})"}}})});
  // By address only: an alias is not found any more.
  CHECK(outcome(handle_lookup(req("first@example.com", "imap"), *index, "")) ==
        "error: user not found:first@example.com");
  // The server is found by cn, so mbox1.example.com matches none: default ports.
  CHECK(outcome(handle_lookup(req("user1@example.com", "imap"), *index, "")) ==
        "mbox1.example.com:7143 user1@example.com");
  // A '*' in the name is a literal, not a wildcard.
  CHECK(outcome(handle_lookup(req("*@example.com", "imap"), *index, "")) ==
        "error: user not found:*@example.com");
  // The domain query is given the proxy address.
  auto vip = req("bob", "pop3");
  vip.proxy_ip = "other.org";
  CHECK(outcome(handle_lookup(vip, *index, "")) == "mbox2.example.com:7110 bob@other.org");
}

TEST_CASE("an answer made into a reused one is the answer made fresh", "[route][handler]") {
  auto index = sample({make_entry("cn=proxy1,cn=servers,cn=zimbra",
                                  {{"objectClass", {"zimbraServer"}},
                                   {"cn", {"proxy1"}},
                                   {"zimbraReverseProxyDnsLookupInServerEnabled", {"FALSE"}},
                                   {"zimbraIPMode", {"ipv6"}}})});
  auto admin = req("user1@example.com", "httpssl");
  admin.admin = true;
  auto vip = req("bob", "pop3");
  vip.proxy_ip = "10.0.0.8";
  const std::vector<std::pair<LookupRequest, std::string>> asks = {
      {req("User1@Example.com", "imap"), "proxy1"}, {req("ghost@example.com", "imap"), ""},
      {vip, "proxy1"}, {admin, ""}, {req("user1@alias.net", "http"), "elsewhere"},
      {req("", "imap"), ""}, {req("user2", "imapssl"), "proxy1"}};
  LookupAnswer reused;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [r, self] : asks) {
      INFO(r.user << " " << r.protocol << " via " << self);
      handle_lookup(r, *index, self, reused);
      const LookupAnswer fresh = handle_lookup(r, *index, self);
      CHECK(format_lookup_response(reused.response) == format_lookup_response(fresh.response));
      CHECK(reused.response.ok == fresh.response.ok);
      CHECK(reused.response.wait_seconds == fresh.response.wait_seconds);
      CHECK(reused.resolve_host == fresh.resolve_host);
      CHECK(reused.ip_mode == fresh.ip_mode);
    }
  }
  handle_lookup(req("USER2", "imap"), *index, "", reused);
  CHECK(reused.looked_up == "user2@example.com");
}

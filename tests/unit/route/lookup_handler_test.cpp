#include "lib/route/lookup_handler.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy;
using namespace zmproxy::route;
using provisioning::Entry;

namespace {

Entry make(std::string dn, std::initializer_list<std::pair<const char*, std::vector<std::string>>> attrs) {
  Entry e{std::move(dn), {}};
  for (const auto& [k, v] : attrs) {
    e.attrs[k] = v;
  }
  return e;
}

std::shared_ptr<const RouteIndex> sample(std::vector<Entry> extra = {}) {
  std::vector<Entry> entries = {
      make("cn=config,cn=zimbra", {{"objectClass", {"zimbraGlobalConfig"}},
                                   {"zimbraDefaultDomainName", {"example.com"}},
                                   {"zimbraMailSSLPort", {"8443"}}}),
      make("cn=mbox1,cn=servers,cn=zimbra", {{"objectClass", {"zimbraServer"}},
                                             {"cn", {"mbox1"}},
                                             {"zimbraServiceHostname", {"mbox1.example.com"}},
                                             {"zimbraImapBindPort", {"17143"}},
                                             {"zimbraMailPort", {"8080"}}}),
      make("cn=mbox2,cn=servers,cn=zimbra", {{"objectClass", {"zimbraServer"}},
                                             {"cn", {"mbox2"}},
                                             {"zimbraServiceHostname", {"mbox2.example.com"}}}),
      make("dc=example,dc=com", {{"objectClass", {"zimbraDomain"}},
                                 {"zimbraDomainName", {"example.com"}},
                                 {"zimbraId", {"d0000000-0000-4000-8000-000000000001"}},
                                 {"zimbraVirtualHostname", {"mail.example.com"}},
                                 {"zimbraVirtualIPAddress", {"10.0.0.9"}}}),
      make("dc=other,dc=org", {{"objectClass", {"zimbraDomain"}},
                               {"zimbraDomainName", {"other.org"}},
                               {"zimbraVirtualIPAddress", {"10.0.0.8"}},
                               {"zimbraDomainAllowedIPs", {"192.0.2.0/24"}}}),
      make("dc=alias,dc=net", {{"objectClass", {"zimbraDomain"}},
                               {"zimbraDomainName", {"alias.net"}},
                               {"zimbraDomainType", {"alias"}},
                               {"zimbraDomainAliasTargetId", {"d0000000-0000-4000-8000-000000000001"}}}),
      make("uid=user1,ou=people,dc=example,dc=com",
           {{"objectClass", {"zimbraAccount"}},
            {"zimbraMailDeliveryAddress", {"user1@example.com"}},
            {"zimbraMailAlias", {"first@example.com"}},
            {"zimbraId", {"a0000000-0000-4000-8000-000000000001"}},
            {"zimbraMailHost", {"mbox1.example.com"}}}),
      make("uid=user2,ou=people,dc=example,dc=com",
           {{"objectClass", {"zimbraAccount"}},
            {"zimbraMailDeliveryAddress", {"user2@example.com"}},
            {"zimbraId", {"a0000000-0000-4000-8000-000000000002"}},
            {"zimbraMailHost", {"mbox2.example.com"}}}),
      make("uid=bob,ou=people,dc=other,dc=org",
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
  auto index = sample({make("cn=config,cn=zimbra", {{"objectClass", {"zimbraGlobalConfig"}},
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
      make("uid=ext,ou=people,dc=example,dc=com",
           {{"objectClass", {"zimbraAccount"}},
            {"zimbraMailDeliveryAddress", {"ext@example.com"}},
            {"zimbraId", {"a0000000-0000-4000-8000-00000000000e"}},
            {"zimbraMailHost", {"mbox1.example.com"}},
            {"zimbraReverseProxyUseExternalRoute", {"TRUE"}},
            {"zimbraExternalImapHostname", {"legacy.example.net"}},
            {"zimbraExternalImapPort", {"143"}}}),
      make("cn=pool,cn=servers,cn=zimbra", {{"objectClass", {"zimbraServer"}},
                                            {"cn", {"pool"}},
                                            {"zimbraServiceHostname", {"mbox3.example.com"}},
                                            {"zimbraReverseProxyUpstreamImapServers",
                                             {"imapd1.example.com", "imapd2.example.com"}}}),
      make("uid=pooled,ou=people,dc=example,dc=com",
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

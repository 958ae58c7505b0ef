#include "lib/route/route_index_settings.hpp"

#include "lib/route/route_index.hpp"

#include "tests/unit/route/entries.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy;
using namespace zmproxy::route;
using zmproxy::test::make_entry;

namespace {

int port(const ServerSettings& s, PortKind kind) {
  return s.port[static_cast<std::size_t>(kind)];
}

}  // namespace

TEST_CASE("lookup settings: the registry defaults when the global config says nothing", "[route][index]") {
  const auto index = RouteIndex::from_entries({});
  const LookupSettings& s = index->settings();
  CHECK(s.mail_host_query.empty());  // the default queries are answered from the tables
  CHECK(s.port_query.empty());
  CHECK(s.domain_query.empty());
  CHECK(s.mail_host_attribute == "zimbraMailHost");
  CHECK(s.user_name_attribute.empty());
  CHECK_FALSE(s.include_original_user);
  CHECK(s.wait_seconds == 10);
  CHECK(s.default_domain.empty());
  const ServerSettings& none = index->server_settings(nullptr);
  CHECK(port(none, PortKind::imap) == 7143);
  CHECK(port(none, PortKind::imapssl) == 7993);
  CHECK(port(none, PortKind::pop3) == 7110);
  CHECK(port(none, PortKind::pop3ssl) == 7995);
  CHECK(port(none, PortKind::admin) == 7071);
  CHECK(none.imap_pool.empty());
  CHECK(none.resolve_host);
  CHECK(none.ip_mode == "ipv4");
}

TEST_CASE("lookup settings: the global config's values, and each server's over them", "[route][index]") {
  const auto index = RouteIndex::from_entries({
      make_entry("cn=config,cn=zimbra",
                 {{"objectClass", {"zimbraGlobalConfig"}},
                  {"zimbraDefaultDomainName", {"Example.COM"}},
                  {"zimbraReverseProxyMailHostQuery", {"(zimbraMailDeliveryAddress=${USER})"}},
                  {"zimbraReverseProxyPortQuery",
                   {"(&(zimbraServiceHostname=${MAILHOST})(objectClass=zimbraServer))"}},  // the default
                  {"zimbraReverseProxyMailHostAttribute", {"zimbraMailTransport"}},
                  {"zimbraReverseProxyUserNameAttribute", {"uid"}},
                  {"zimbraReverseProxyExternalRouteIncludeOriginalAuthusername", {"TRUE"}},
                  {"zimbraReverseProxyAuthWaitInterval", {"3s"}},
                  {"zimbraReverseProxyPop3PortAttribute", {"zimbraNoSuchPortAttribute"}},
                  {"zimbraImapBindPort", {"17143"}},
                  {"zimbraReverseProxyUpstreamImapServers", {"imapd1.example.com", "imapd9.example.com"}}}),
      make_entry("cn=mbox1,cn=servers,cn=zimbra",
                 {{"objectClass", {"zimbraServer"}},
                  {"cn", {"mbox1"}},
                  {"zimbraServiceHostname", {"mbox1.example.com"}},
                  {"zimbraImapBindPort", {"27143"}},
                  {"zimbraReverseProxyUpstreamImapServers", {}},
                  {"zimbraReverseProxyDnsLookupInServerEnabled", {"FALSE"}},
                  {"zimbraIPMode", {"both"}}}),
      make_entry("cn=imapd1,cn=servers,cn=zimbra",
                 {{"objectClass", {"zimbraServer"}},
                  {"cn", {"imapd1"}},
                  {"zimbraServiceHostname", {"imapd1.example.com"}},
                  {"zimbraRemoteImapBindPort", {"9143"}},
                  {"zimbraRemoteImapSSLBindPort", {"not a port"}}}),
  });
  const LookupSettings& s = index->settings();
  CHECK(s.mail_host_query == "(zimbraMailDeliveryAddress=${USER})");
  CHECK(s.port_query.empty());
  CHECK(s.mail_host_attribute == "zimbraMailTransport");
  CHECK(s.user_name_attribute == "uid");
  CHECK(s.include_original_user);
  CHECK(s.wait_seconds == 3);
  CHECK(s.default_domain == "example.com");

  const ServerSettings& mbox1 = index->server_settings(index->server_by_name("mbox1"));
  CHECK(port(mbox1, PortKind::imap) == 27143);
  CHECK(port(mbox1, PortKind::pop3) == 0);  // the indirection names no attribute it has
  CHECK(mbox1.imap_pool.size() == 2);       // an empty list is no value: the global config's
  CHECK_FALSE(mbox1.resolve_host);
  CHECK(mbox1.ip_mode == "both");

  const ServerSettings& none = index->server_settings(nullptr);
  CHECK(port(none, PortKind::imap) == 17143);
  REQUIRE(none.imap_pool.size() == 2);
  CHECK(none.imap_pool[0].host == "imapd1.example.com");
  CHECK(none.imap_pool[0].imap_port == 9143);
  CHECK(none.imap_pool[0].imapssl_port == 0);
  CHECK(none.imap_pool[1].host == "imapd9.example.com");  // not a server here: the defaults
  CHECK(none.imap_pool[1].imap_port == 8143);
  CHECK(none.imap_pool[1].imapssl_port == 8993);

  // An entry that is not one of the index's servers gets the global config's.
  const provisioning::Entry stranger = *index->server_by_name("mbox1");
  CHECK(port(index->server_settings(&stranger), PortKind::imap) == 17143);
}

TEST_CASE("port numbers: 1 to 65535, blanks around allowed", "[route][index]") {
  CHECK(port_number("7143") == 7143);
  CHECK(port_number(" 993 ") == 993);
  CHECK(port_number("65535") == 65535);
  CHECK(port_number("0") == 0);
  CHECK(port_number("65536") == 0);
  CHECK(port_number("-1") == 0);
  CHECK(port_number("80x") == 0);
  CHECK(port_number("") == 0);
}

TEST_CASE("account and domain settings: the values a lookup reads, per entry", "[route][index]") {
  const auto index = RouteIndex::from_entries({
      make_entry("cn=config,cn=zimbra", {{"objectClass", {"zimbraGlobalConfig"}},
                                         {"zimbraReverseProxyUserNameAttribute", {"uid"}}}),
      make_entry("dc=example,dc=com", {{"objectClass", {"zimbraDomain"}},
                                       {"zimbraDomainName", {"example.com"}},
                                       {"zimbraDomainAllowedIPs", {"192.0.2.0/24", "10.0.0.1"}},
                                       {"zimbraReverseProxyUseExternalRoute", {"TRUE"}}}),
      make_entry("dc=plain,dc=org", {{"objectClass", {"zimbraDomain"}}, {"zimbraDomainName", {"plain.org"}}}),
      make_entry("uid=carol,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"uid", {"carol"}},
                  {"zimbraMailDeliveryAddress", {"Carol@Example.com"}},
                  {"zimbraId", {"a0000000-0000-4000-8000-0000000000c1"}},
                  {"zimbraMailHost", {"mbox1.example.com"}},
                  {"zimbraReverseProxyUseExternalRoute", {"true"}}}),
      make_entry("uid=dan,ou=people,dc=plain,dc=org",
                 {{"objectClass", {"zimbraAccount"}}, {"zimbraMailDeliveryAddress", {"dan@plain.org"}}}),
  });
  const AccountSettings& carol = index->account_settings(*index->account_by_address("carol@example.com"));
  CHECK(carol.name == "Carol@Example.com");  // as stored: the handler lower-cases the answer
  CHECK(carol.mail_host == "mbox1.example.com");
  CHECK(carol.id == "a0000000-0000-4000-8000-0000000000c1");
  CHECK(carol.user_name == "carol");
  CHECK(carol.use_external_route);
  const AccountSettings& dan = index->account_settings(*index->account_by_address("dan@plain.org"));
  CHECK(dan.mail_host.empty());
  CHECK(dan.id.empty());
  CHECK(dan.user_name.empty());
  CHECK_FALSE(dan.use_external_route);

  const DomainSettings& example = index->domain_settings(*index->domain_by_name("example.com"));
  REQUIRE(example.allowed_ips != nullptr);
  CHECK(*example.allowed_ips == std::vector<std::string>{"192.0.2.0/24", "10.0.0.1"});
  CHECK(example.use_external_route);
  const DomainSettings& plain = index->domain_settings(*index->domain_by_name("plain.org"));
  CHECK(plain.allowed_ips == nullptr);
  CHECK_FALSE(plain.use_external_route);

  // An entry that is not the index's own has none.
  const provisioning::Entry copy = *index->account_by_address("carol@example.com");
  CHECK(index->account_settings(copy).name.empty());
}

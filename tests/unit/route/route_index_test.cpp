#include "lib/route/route_index.hpp"

#include "lib/provisioning/file_store.hpp"

#include "tests/support/temp_dir.hpp"
#include "tests/unit/route/entries.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace zmproxy;
using namespace zmproxy::route;
using zmproxy::test::make_entry;

namespace {

std::vector<Entry> sample_entries() {
  return {
      make_entry("cn=config,cn=zimbra", {{"objectClass", {"zimbraGlobalConfig"}},
                                         {"zimbraImapBindPort", {"17143"}},
                                         {"zimbraReverseProxyUpstreamImapServers", {"g1", "g2"}}}),
      make_entry("cn=mbox1,cn=servers,cn=zimbra",
                 {{"objectClass", {"zimbraServer"}},
                  {"cn", {"MBox1"}},
                  {"zimbraServiceHostname", {"mbox1.example.com", "mbox1.alt.example.com"}},
                  {"zimbraImapBindPort", {"27143"}},
                  {"zimbraReverseProxyUpstreamImapServers", {"s1"}}}),
      make_entry("cn=mbox2,cn=servers,cn=zimbra",
                 {{"objectClass", {"zimbraServer"}},
                  {"cn", {"mbox2"}},
                  {"zimbraServiceHostname", {"mbox2.example.com"}}}),
      make_entry("dc=example,dc=com",
                 {{"objectClass", {"dcObject", "zimbraDomain"}},
                  {"zimbraDomainName", {"Example.com"}},
                  {"zimbraId", {"D0000000-0000-4000-8000-000000000001"}},
                  {"zimbraVirtualHostname", {"Mail.Example.com", "webmail.example.com"}},
                  {"zimbraVirtualIPAddress", {"10.0.0.9"}}}),
      // Not a kind the index knows: left out.
      make_entry("ou=people,dc=example,dc=com",
                 {{"objectClass", {"organizationalUnit"}}, {"ou", {"people"}}}),
      make_entry("uid=user1,ou=people,dc=example,dc=com",
                 {{"objectClass", {"inetOrgPerson", "zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"User1@Example.com"}},
                  {"zimbraMailAlias", {"first@example.com", "one@example.com"}},
                  {"zimbraId", {"A0000000-0000-4000-8000-000000000001"}},
                  {"zimbraMailHost", {"mbox1.example.com"}}}),
      // An account without an address or id is kept, but not indexed under "".
      make_entry("uid=blank,ou=people,dc=example,dc=com", {{"objectClass", {"zimbraAccount"}}}),
  };
}

std::string dn_of(const Entry* e) {
  return e == nullptr ? "none" : e->dn;
}

}  // namespace

TEST_CASE("the index sorts entries by kind and finds them by every name, any case",
          "[route][index]") {
  const auto index = RouteIndex::from_entries(sample_entries());
  CHECK(index->accounts().size() == 2);
  CHECK(index->domains().size() == 1);
  CHECK(index->servers().size() == 2);
  CHECK(index->global().first("zimbraImapBindPort") == "17143");

  const std::string user1 = "uid=user1,ou=people,dc=example,dc=com";
  CHECK(dn_of(index->account_by_address("user1@example.com")) == user1);
  CHECK(dn_of(index->account_by_address("ONE@example.COM")) == user1);
  CHECK(dn_of(index->account_by_id("a0000000-0000-4000-8000-000000000001")) == user1);
  CHECK(dn_of(index->account_by_address("")) == "none");
  CHECK(dn_of(index->account_by_id("")) == "none");
  CHECK(dn_of(index->account_by_address("ghost@example.com")) == "none");

  CHECK(dn_of(index->domain_by_name("example.com")) == "dc=example,dc=com");
  CHECK(dn_of(index->domain_by_id("d0000000-0000-4000-8000-000000000001")) == "dc=example,dc=com");
  CHECK(dn_of(index->domain_by_virtual_host("WEBMAIL.example.com")) == "dc=example,dc=com");
  CHECK(dn_of(index->domain_by_virtual_host("mail.example.com")) == "dc=example,dc=com");
  CHECK(dn_of(index->domain_by_virtual_ip("10.0.0.9")) == "dc=example,dc=com");
  CHECK(dn_of(index->domain_by_virtual_ip("10.0.0.8")) == "none");

  CHECK(dn_of(index->server_by_name("mbox1")) == "cn=mbox1,cn=servers,cn=zimbra");
  CHECK(dn_of(index->server_by_service_hostname("MBOX1.alt.example.com")) ==
        "cn=mbox1,cn=servers,cn=zimbra");
  CHECK(dn_of(index->server_by_service_hostname("mbox2.example.com")) ==
        "cn=mbox2,cn=servers,cn=zimbra");
  CHECK(dn_of(index->server_by_service_hostname("mbox3.example.com")) == "none");
}

TEST_CASE("values: the server's, else the global config's, else the registry default",
          "[route][index]") {
  const auto index = RouteIndex::from_entries(sample_entries());
  const Entry& mbox1 = *index->server_by_name("mbox1");
  const Entry& mbox2 = *index->server_by_name("mbox2");
  CHECK(index->server_value(mbox1, "zimbraImapBindPort") == "27143");
  CHECK(index->server_value(mbox2, "zimbraImapBindPort") == "17143");
  CHECK(index->global_value("zimbraImapBindPort") == "17143");
  CHECK(index->global_value("zimbraImapSSLBindPort") == "7993");  // the registry default
  CHECK(index->server_value(mbox2, "zimbraImapSSLBindPort") == "7993");
  CHECK(index->global_value("zimbraNoSuchAttribute").empty());

  CHECK(index->server_values(mbox1, "zimbraReverseProxyUpstreamImapServers") ==
        std::vector<std::string>{"s1"});
  CHECK(index->server_values(mbox2, "zimbraReverseProxyUpstreamImapServers") ==
        std::vector<std::string>{"g1", "g2"});
  CHECK(index->server_values(mbox2, "zimbraNoSuchAttribute").empty());
}

TEST_CASE("an index without a global config uses the registry defaults", "[route][index]") {
  const auto index = RouteIndex::from_entries({});
  CHECK(index->accounts().empty());
  CHECK(index->global_value("zimbraImapBindPort") == "7143");
  CHECK(index->global_value("zimbraReverseProxyAuthWaitInterval") == "10s");
}

TEST_CASE("search matches an LDAP filter, and a filter that does not parse matches nothing",
          "[route][index]") {
  const auto index = RouteIndex::from_entries(sample_entries());
  const auto found = index->search(index->accounts(), "(zimbraMailAlias=one@example.com)");
  REQUIRE(found.size() == 1);
  CHECK(found.front()->dn == "uid=user1,ou=people,dc=example,dc=com");
  CHECK(index->search(index->servers(), "(zimbraServiceHostname=*)").size() == 2);
  CHECK(index->search(index->accounts(), "(zimbraMailAlias=nobody)").empty());
  CHECK(index->search(index->accounts(), "(unbalanced").empty());
}

TEST_CASE("build reads the global config, servers, domains and accounts of a store",
          "[route][index]") {
  test::TempDir temp;
  auto store = provisioning::FileStore::open(temp.path() / "prov.ldif");
  REQUIRE(store);
  SECTION("an empty store is an empty index") {
    auto index = RouteIndex::build(**store);
    REQUIRE(index);
    CHECK((*index)->accounts().empty());
    CHECK((*index)->servers().empty());
  }
  SECTION("a store with entries") {
    std::vector<Entry> entries = {
        make_entry("cn=zimbra", {{"objectClass", {"organizationalRole"}}, {"cn", {"zimbra"}}}),
        make_entry("cn=servers,cn=zimbra",
                   {{"objectClass", {"organizationalRole"}}, {"cn", {"servers"}}}),
        make_entry("dc=com", {{"objectClass", {"dcObject"}}, {"dc", {"com"}}}),
    };
    for (Entry& e : sample_entries()) {
      entries.push_back(std::move(e));
    }
    for (const Entry& e : entries) {
      const auto added = (*store)->add(e);
      INFO(e.dn << ": " << (added ? std::string("added") : added.error().message));
      REQUIRE(added);
    }
    auto index = RouteIndex::build(**store);
    REQUIRE(index);
    CHECK((*index)->accounts().size() == 2);
    CHECK((*index)->domains().size() == 1);
    CHECK((*index)->servers().size() == 2);
    CHECK((*index)->global_value("zimbraImapBindPort") == "17143");
    CHECK(dn_of((*index)->account_by_address("first@example.com")) ==
          "uid=user1,ou=people,dc=example,dc=com");
  }
}

TEST_CASE("the index finds an account by its Kerberos principal, case exact",
          "[route][index][gssapi]") {
  auto index = RouteIndex::from_entries(
      {make_entry("uid=alice,ou=people,dc=example,dc=com",
                  {{"objectClass", {"zimbraAccount"}},
                   {"zimbraMailDeliveryAddress", {"alice@example.com"}},
                   {"zimbraForeignPrincipal",
                    {"kerberos5:alice@ZMPROXY.TEST", "ad:alice", "kerberos5:a2@ZMPROXY.TEST"}}}),
       make_entry("uid=bob,ou=people,dc=example,dc=com",
                  {{"objectClass", {"zimbraAccount"}},
                   {"zimbraMailDeliveryAddress", {"bob@example.com"}},
                   {"zimbraForeignPrincipal", {"kerberos5:"}}})});
  CHECK(dn_of(index->account_by_principal("alice@ZMPROXY.TEST")) ==
        "uid=alice,ou=people,dc=example,dc=com");
  CHECK(dn_of(index->account_by_principal("a2@ZMPROXY.TEST")) ==
        "uid=alice,ou=people,dc=example,dc=com");
  CHECK(index->account_by_principal("alice@zmproxy.test") == nullptr);
  CHECK(index->account_by_principal("ALICE@ZMPROXY.TEST") == nullptr);
  CHECK(index->account_by_principal("alice") == nullptr);  // another kind of principal
  CHECK(index->account_by_principal("") == nullptr);       // "kerberos5:" alone is nothing
}

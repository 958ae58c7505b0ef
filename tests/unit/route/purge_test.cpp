#include "lib/route/purge.hpp"

#include "lib/route/cache_key.hpp"

#include "tests/unit/route/entries.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace zmproxy;
using namespace zmproxy::route;
using zmproxy::test::make_entry;

namespace {

bool has(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

}  // namespace

TEST_CASE("purge keys: every protocol by name, alias, alias domain, bare name and id",
          "[route][purge]") {
  const auto index = RouteIndex::from_entries({
      make_entry("cn=config,cn=zimbra", {{"objectClass", {"zimbraGlobalConfig"}},
                                         {"zimbraDefaultDomainName", {"example.com"}}}),
      make_entry("dc=example,dc=com", {{"objectClass", {"zimbraDomain"}},
                                       {"zimbraDomainName", {"example.com"}},
                                       {"zimbraId", {"d1"}},
                                       {"zimbraVirtualIPAddress", {"10.0.0.9"}},
                                       {"zimbraVirtualHostname", {"mail.example.com"}}}),
      make_entry("dc=alias,dc=net", {{"objectClass", {"zimbraDomain"}},
                                     {"zimbraDomainName", {"alias.net"}},
                                     {"zimbraDomainType", {"alias"}},
                                     {"zimbraDomainAliasTargetId", {"D1"}}}),
      make_entry("uid=user1,ou=people,dc=example,dc=com",
                 {{"objectClass", {"zimbraAccount"}},
                  {"zimbraMailDeliveryAddress", {"User1@example.com"}},
                  {"zimbraMailAlias", {"first@example.com"}},
                  {"zimbraId", {"A1"}}}),
  });
  const Entry& account = *index->account_by_id("a1");
  const auto keys = purge_keys(account, *index, {"127.0.0.1"});
  for (const char* proto : {"imap", "imapssl", "pop3", "pop3ssl", "http", "httpssl"}) {
    INFO(proto);
    for (const char* login : {"user1@example.com", "first@example.com", "user1@alias.net",
                              "first@alias.net", "user1", "first"}) {
      INFO(login);
      CHECK(has(keys, route_key(proto, login)));
    }
    CHECK(has(keys, route_id_key(proto, "a1", RouteKind::web)));
    CHECK(has(keys, route_id_key(proto, "a1", RouteKind::admin)));
    CHECK(has(keys, route_id_key(proto, "a1", RouteKind::zx)));
  }
  for (const char* ip : {"127.0.0.1", "10.0.0.9"}) {
    CHECK(has(keys, alias_key("user1", ip)));
    CHECK(has(keys, alias_key("first@alias.net", ip)));
  }
  CHECK(has(keys, alias_vhost_key("user1", "mail.example.com")));
  CHECK(std::is_sorted(keys.begin(), keys.end()));
  CHECK(std::adjacent_find(keys.begin(), keys.end()) == keys.end());
}

TEST_CASE("memcached servers: the client list, else servers running memcached", "[route][purge]") {
  const Entry memcached_a =
      make_entry("cn=m1,cn=servers,cn=zimbra", {{"objectClass", {"zimbraServer"}},
                                                {"cn", {"m1"}},
                                                {"zimbraServiceHostname", {"m1.example.com"}},
                                                {"zimbraServiceEnabled", {"mailbox", "MEMCACHED"}},
                                                {"zimbraMemcachedBindPort", {"11212"}}});
  const Entry memcached_v6 =
      make_entry("cn=m2,cn=servers,cn=zimbra", {{"objectClass", {"zimbraServer"}},
                                                {"cn", {"m2"}},
                                                {"zimbraServiceHostname", {"2001:db8::2"}},
                                                {"zimbraServiceEnabled", {"memcached"}}});
  const Entry mailbox =
      make_entry("cn=mb,cn=servers,cn=zimbra", {{"objectClass", {"zimbraServer"}},
                                                {"cn", {"mb"}},
                                                {"zimbraServiceHostname", {"mb.example.com"}},
                                                {"zimbraServiceEnabled", {"mailbox"}}});
  SECTION("found by service, IPv6 addresses in brackets") {
    const auto index = RouteIndex::from_entries({memcached_a, memcached_v6, mailbox});
    CHECK(memcached_servers(*index, "mb") ==
          std::vector<std::string>{"m1.example.com:11212", "[2001:db8::2]:11211"});
  }
  SECTION("the server's own list wins") {
    Entry self = mailbox;
    self.attrs["zimbraMemcachedClientServerList"] = {"cache1:11211", "cache2:11211"};
    const auto index = RouteIndex::from_entries({memcached_a, self});
    CHECK(memcached_servers(*index, "mb") ==
          std::vector<std::string>{"cache1:11211", "cache2:11211"});
    CHECK(memcached_servers(*index, "m1") == std::vector<std::string>{"m1.example.com:11212"});
  }
}

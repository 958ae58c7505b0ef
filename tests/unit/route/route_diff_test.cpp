#include "lib/route/route_diff.hpp"

#include "tests/unit/route/entries.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace zmproxy;
using namespace zmproxy::route;
using zmproxy::test::make_entry;

namespace {

Entry global() {
  return make_entry("cn=config,cn=zimbra", {{"objectClass", {"zimbraGlobalConfig"}},
                                            {"zimbraDefaultDomainName", {"example.com"}}});
}

Entry server(const std::string& host, const std::string& imap_port) {
  return make_entry("cn=" + host + ",cn=servers,cn=zimbra", {{"objectClass", {"zimbraServer"}},
                                                            {"cn", {host}},
                                                            {"zimbraServiceHostname", {host}},
                                                            {"zimbraImapBindPort", {imap_port}}});
}

Entry domain(const std::string& name, const std::string& id) {
  return make_entry("dc=" + name, {{"objectClass", {"zimbraDomain"}},
                                   {"zimbraDomainName", {name}},
                                   {"zimbraId", {id}}});
}

Entry account(const std::string& name, const std::string& id, const std::string& host) {
  return make_entry("uid=" + name, {{"objectClass", {"zimbraAccount"}},
                                    {"zimbraMailDeliveryAddress", {name}},
                                    {"zimbraId", {id}},
                                    {"zimbraMailHost", {host}},
                                    {"zimbraAccountStatus", {"active"}}});
}

std::vector<Entry> base() {
  return {global(),
          server("mbs1", "7143"),
          server("mbs2", "7143"),
          domain("example.com", "d1"),
          domain("other.test", "d2"),
          account("john@example.com", "id-john", "mbs1"),
          account("mary@example.com", "id-mary", "mbs1"),
          account("bob@other.test", "id-bob", "mbs2")};
}

// The names of the accounts `diff` says changed, from either side; how
// many accounts that is in `accounts`.
std::vector<std::string> changed(const std::vector<Entry>& before_entries, const std::vector<Entry>& after_entries,
                                 std::size_t* accounts = nullptr) {
  const auto before = RouteIndex::from_entries(before_entries);
  const auto after = RouteIndex::from_entries(after_entries);
  const RouteChanges c = diff_prints(account_prints(*before, "proxy"), account_prints(*after, "proxy"));
  if (accounts != nullptr) {
    *accounts = c.accounts;
  }
  std::vector<std::string> names;
  for (const auto at : c.before) {
    names.push_back(before->accounts()[at].first("zimbraMailDeliveryAddress"));
  }
  for (const auto at : c.after) {
    names.push_back(after->accounts()[at].first("zimbraMailDeliveryAddress"));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Entry& find(std::vector<Entry>& entries, const std::string& dn) {
  return *std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.dn == dn; });
}

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("route diff: an unchanged store changes no account", "[route][diff]") {
  CHECK(changed(base(), base()).empty());
  // Nor does an attribute routes do not read (a password, a last logon).
  auto after = base();
  find(after, "uid=john@example.com").attrs["userPassword"] = {"{SSHA}x"};
  find(after, "uid=john@example.com").attrs["zimbraLastLogonTimestamp"] = {"20261207000000Z"};
  CHECK(changed(base(), after).empty());
}

TEST_CASE("route diff: what an account's route depends on", "[route][diff]") {
  auto after = base();
  SECTION("a mailbox move") {
    find(after, "uid=john@example.com").attrs["zimbraMailHost"] = {"mbs2"};
    CHECK(changed(base(), after) == Names{"john@example.com"});
  }
  SECTION("an alias added, then removed") {
    find(after, "uid=mary@example.com").attrs["zimbraMailAlias"] = {"mm@example.com"};
    CHECK(changed(base(), after) == Names{"mary@example.com"});
    CHECK(changed(after, base()) == Names{"mary@example.com"});
  }
  SECTION("status, external route, admin") {
    find(after, "uid=john@example.com").attrs["zimbraAccountStatus"] = {"closed"};
    find(after, "uid=mary@example.com").attrs["zimbraIsAdminAccount"] = {"TRUE"};
    find(after, "uid=bob@other.test").attrs["zimbraExternalImapHostname"] = {"ext.example.net"};
    CHECK(changed(base(), after) == Names{"bob@other.test", "john@example.com", "mary@example.com"});
  }
  SECTION("a rename is the same account (by zimbraId), changed") {
    find(after, "uid=john@example.com").attrs["zimbraMailDeliveryAddress"] = {"johnny@example.com"};
    std::size_t accounts = 0;
    CHECK(changed(base(), after, &accounts) == Names{"john@example.com", "johnny@example.com"});
    CHECK(accounts == 1);
  }
  SECTION("deleted and added accounts") {
    after.erase(std::find_if(after.begin(), after.end(), [](const Entry& e) { return e.dn == "uid=bob@other.test"; }));
    after.push_back(account("new@example.com", "id-new", "mbs1"));
    std::size_t accounts = 0;
    CHECK(changed(base(), after, &accounts) == Names{"bob@other.test", "new@example.com"});
    CHECK(accounts == 2);
  }
}

TEST_CASE("route diff: a server's or a domain's change reaches its accounts only", "[route][diff]") {
  auto after = base();
  SECTION("mbs1's IMAP port: john and mary") {
    find(after, "cn=mbs1,cn=servers,cn=zimbra").attrs["zimbraImapBindPort"] = {"17143"};
    CHECK(changed(base(), after) == Names{"john@example.com", "mary@example.com"});
  }
  SECTION("an alias domain pointing at example.com: its accounts' addresses there") {
    auto alias = domain("alias.test", "d3");
    alias.attrs["zimbraDomainType"] = {"alias"};
    alias.attrs["zimbraDomainAliasTargetId"] = {"d1"};
    after.push_back(alias);
    CHECK(changed(base(), after) == Names{"john@example.com", "mary@example.com"});
  }
  SECTION("other.test's virtual IP: bob") {
    find(after, "dc=other.test").attrs["zimbraVirtualIPAddress"] = {"10.0.0.5"};
    CHECK(changed(base(), after) == Names{"bob@other.test"});
  }
  SECTION("the global lookup settings: everyone") {
    find(after, "cn=config,cn=zimbra").attrs["zimbraDefaultDomainName"] = {"other.test"};
    CHECK(changed(base(), after).size() == 3);
  }
  SECTION("a non-default mail host query routes by the attributes it names") {
    find(after, "cn=config,cn=zimbra").attrs["zimbraReverseProxyMailHostQuery"] = {
        "(|(zimbraMailDeliveryAddress=${USER})(uid=${USER}))"};
    auto later = after;
    find(later, "uid=mary@example.com").attrs["uid"] = {"mary"};
    CHECK(changed(after, later) == Names{"mary@example.com"});
  }
}

TEST_CASE("route diff: one move among 20,000 accounts is one changed account", "[route][diff]") {
  std::vector<Entry> entries = base();
  for (int i = 0; i < 20000; ++i) {
    entries.push_back(account("u" + std::to_string(i) + "@example.com", "id-" + std::to_string(i),
                              i % 2 == 0 ? "mbs1" : "mbs2"));
  }
  auto after_entries = entries;
  find(after_entries, "uid=u777@example.com").attrs["zimbraMailHost"] = {"mbs1"};  // from mbs2
  const auto before = RouteIndex::from_entries(entries);
  const auto after = RouteIndex::from_entries(after_entries);
  const RouteChanges c = diff_prints(account_prints(*before, "proxy"), account_prints(*after, "proxy"));
  REQUIRE(c.accounts == 1);
  CHECK(after->accounts()[c.after.front()].first("zimbraMailDeliveryAddress") == "u777@example.com");
  CHECK(before->accounts()[c.before.front()].first("zimbraMailDeliveryAddress") == "u777@example.com");
}

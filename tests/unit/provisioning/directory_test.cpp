// Conformance tests of the Directory interface, run on both stores: on an
// LdapStore when ZMPROXY_TEST_LDAP_URL is set (tests/integration/with_slapd.py
// sets it; CTest runs them so as integration.ldap_directory), else on a
// FileStore in a fresh temp dir. Each test works in its own subtree
// dc=t<random hex>,dc=test, so they can share one server, and removes it after.

#include <catch2/catch.hpp>

#include "lib/provisioning/file_store.hpp"
#include "lib/provisioning/ldap_store.hpp"
#include "tests/support/temp_dir.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using namespace std::string_literals;
using zmproxy::Errc;
using zmproxy::Result;
using zmproxy::provisioning::Directory;
using zmproxy::provisioning::Entry;
using zmproxy::provisioning::LdapSettings;
using zmproxy::provisioning::LdapStore;
using zmproxy::provisioning::ModOp;
using zmproxy::provisioning::Scope;
using zmproxy::provisioning::Values;

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::string(fallback);
}

bool on_ldap() {
  return !env_or("ZMPROXY_TEST_LDAP_URL", "").empty();
}

LdapSettings ldap_settings() {
  LdapSettings s;
  s.url = env_or("ZMPROXY_TEST_LDAP_URL", "");
  s.bind_dn = env_or("ZMPROXY_TEST_LDAP_BIND_DN", "uid=zimbra,cn=admins,cn=zimbra");
  s.password = env_or("ZMPROXY_TEST_LDAP_PASSWORD", "zimbra");
  s.timeout_seconds = 10;
  return s;
}

// The value of a successful Result; fails the test with its message otherwise.
template <typename T>
T ok(Result<T> r) {
  if (!r) {
    FAIL("unexpected error: " << r.error().message);
  }
  if constexpr (!std::is_void_v<T>) {
    return std::move(*r);
  }
}

template <typename T>
zmproxy::Error error_of(const Result<T>& r) {
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

std::string random_hex() {
  std::random_device rd;
  std::uniform_int_distribution<unsigned long long> dist;
  const unsigned long long n = dist(rd);
  static const char k_digits[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 12; ++i) {
    out.push_back(k_digits[(n >> (4 * i)) & 0xf]);
  }
  return out;
}

std::vector<std::string> dns_of(const std::vector<Entry>& entries) {
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (const Entry& e : entries) {
    out.push_back(e.dn);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Values sorted(Values v) {
  std::sort(v.begin(), v.end());
  return v;
}

Entry make_entry(std::string dn, const std::vector<std::pair<std::string, Values>>& attrs) {
  Entry e;
  e.dn = std::move(dn);
  for (const auto& [name, values] : attrs) {
    e.attrs[name] = values;
  }
  return e;
}

// The store under test.
std::unique_ptr<Directory> make_directory(std::optional<zmproxy::test::TempDir>& temp) {
  if (on_ldap()) {
    return ok(LdapStore::connect(ldap_settings()));
  }
  temp.emplace();
  return ok(zmproxy::provisioning::FileStore::open(temp->path() / "prov.ldif"));
}

// One test's own domain dc=t<hex>,dc=test with ou=people, removed at the end.
class TestTree {
 public:
  TestTree() : m_dir(make_directory(m_temp)), m_name("t" + random_hex()) {
    const Result<void> top = m_dir->add(make_entry(
        "dc=test",
        {{"objectClass", {"dcObject", "organization"}}, {"dc", {"test"}}, {"o", {"test"}}}));
    if (!top && top.error().code != Errc::already_exists) {
      FAIL("cannot create dc=test: " << top.error().message);
    }
    ok(m_dir->add(make_entry(base(), {{"objectClass", {"dcObject", "organization", "zimbraDomain"}},
                                      {"dc", {m_name}},
                                      {"o", {domain()}},
                                      {"zimbraDomainName", {domain()}}})));
    ok(m_dir->add(
        make_entry(people(), {{"objectClass", {"organizationalUnit"}}, {"ou", {"people"}}})));
  }
  TestTree(const TestTree&) = delete;
  TestTree& operator=(const TestTree&) = delete;
  TestTree(TestTree&&) = delete;
  TestTree& operator=(TestTree&&) = delete;
  ~TestTree() {
    // Best effort: deepest entries first.
    auto all = m_dir->search(base(), Scope::subtree, "(objectClass=*)");
    if (all) {
      std::sort(all->begin(), all->end(),
                [](const Entry& a, const Entry& b) { return a.dn.size() > b.dn.size(); });
      for (const Entry& e : *all) {
        (void)m_dir->remove(e.dn);
      }
    }
  }

  Directory& dir() { return *m_dir; }
  std::string base() const { return "dc=" + m_name + ",dc=test"; }
  std::string domain() const { return m_name + ".test"; }
  std::string people() const { return "ou=people," + base(); }
  std::string account_dn(const std::string& local) const { return "uid=" + local + "," + people(); }
  std::string address(const std::string& local) const { return local + "@" + domain(); }

  Entry account(const std::string& local, Values aliases = {}) const {
    Entry e = make_entry(account_dn(local), {{"objectClass", {"inetOrgPerson", "zimbraAccount"}},
                                             {"cn", {local}},
                                             {"sn", {local}},
                                             {"uid", {local}},
                                             {"zimbraMailDeliveryAddress", {address(local)}},
                                             {"zimbraMailHost", {"mbox1.example.com"}},
                                             {"zimbraId", {"id-" + local + "-" + m_name}}});
    if (!aliases.empty()) {
      e.attrs["zimbraMailAlias"] = std::move(aliases);
    }
    return e;
  }
  void add_account(const std::string& local, Values aliases = {}) {
    ok(m_dir->add(account(local, std::move(aliases))));
  }
  Entry get(const std::string& dn) {
    auto e = ok(m_dir->get(dn));
    if (!e) {
      FAIL("no entry " << dn);
    }
    return std::move(*e);
  }

 private:
  std::optional<zmproxy::test::TempDir> m_temp;
  std::unique_ptr<Directory> m_dir;
  std::string m_name;
};

}  // namespace

TEST_CASE("directory: add then get round-trips attributes", "[directory]") {
  TestTree t;
  t.add_account("alice", {"al@x.test", "alice.a@x.test", "ali@x.test"});

  const Entry e = t.get(t.account_dn("alice"));
  CHECK(e.dn == t.account_dn("alice"));
  CHECK(e.has_object_class("inetOrgPerson"));
  CHECK(e.has_object_class("ZIMBRAACCOUNT"));
  CHECK(e.first("uid") == "alice");
  CHECK(e.first("zimbraMailDeliveryAddress") == t.address("alice"));
  CHECK(e.first("ZIMBRAMAILDELIVERYADDRESS") == t.address("alice"));
  CHECK(e.first("zimbramailhost") == "mbox1.example.com");
  REQUIRE(e.values("zimbraMailAlias") != nullptr);
  CHECK(*e.values("zimbraMailAlias") == Values{"al@x.test", "alice.a@x.test", "ali@x.test"});
  CHECK(e.values("zimbraMailStatus") == nullptr);
}

TEST_CASE("directory: values are binary-safe", "[directory]") {
  TestTree t;
  const std::string dn = "cn=cfg," + t.base();
  const std::string blob = "\x00\x01\xff\xfe line\r\n\x7f end\x00"s;
  ok(t.dir().add(make_entry(
      dn, {{"objectClass", {"zimbraGlobalConfig"}},
           {"cn", {"cfg"}},
           {"zimbraSSLDHParam", {blob}},
           {"description", {" leading space", "trailing: colon ", "\xc3\xa9t\xc3\xa9"}}})));
  const Entry e = t.get(dn);
  CHECK(e.first("zimbraSSLDHParam") == blob);
  CHECK(e.first("zimbraSSLDHParam").size() == 17);  // the NULs included
  REQUIRE(e.values("description") != nullptr);
  CHECK(sorted(*e.values("description")) ==
        sorted({" leading space", "trailing: colon ", "\xc3\xa9t\xc3\xa9"}));
}

TEST_CASE("directory: get of a missing entry is nullopt", "[directory]") {
  TestTree t;
  CHECK_FALSE(ok(t.dir().get(t.account_dn("nobody"))).has_value());
  CHECK_FALSE(ok(t.dir().get("uid=x,ou=nowhere," + t.base())).has_value());
}

TEST_CASE("directory: add of an existing entry is already_exists", "[directory]") {
  TestTree t;
  t.add_account("bob");
  const auto err = error_of(t.dir().add(t.account("bob")));
  CHECK(err.code == Errc::already_exists);
  CHECK(err.message.find('\n') == std::string::npos);
}

TEST_CASE("directory: add below a missing parent is not_found", "[directory]") {
  TestTree t;
  Entry e = t.account("carol");
  e.dn = "uid=carol,ou=missing," + t.base();
  const auto err = error_of(t.dir().add(e));
  CHECK(err.code == Errc::not_found);
  CHECK(err.message.find('\n') == std::string::npos);
  CHECK_FALSE(ok(t.dir().get(e.dn)).has_value());
}

TEST_CASE("directory: search scopes and filters", "[directory]") {
  TestTree t;
  t.add_account("alice", {"a1@" + t.domain(), "a2@" + t.domain()});
  t.add_account("albert");
  t.add_account("bob", {"b1@" + t.domain()});
  Directory& d = t.dir();
  const std::string accounts = "(objectClass=zimbraAccount)";

  SECTION("subtree from the domain") {
    CHECK(dns_of(ok(d.search(t.base(), Scope::subtree, accounts))).size() == 3);
    // The domain and ou=people match too.
    CHECK(ok(d.search(t.base(), Scope::subtree, "(objectClass=*)")).size() == 5);
  }
  SECTION("one level") {
    const auto below_domain = ok(d.search(t.base(), Scope::one, "(objectClass=*)"));
    REQUIRE(below_domain.size() == 1);
    CHECK(below_domain[0].first("ou") == "people");
    CHECK(ok(d.search(t.base(), Scope::one, accounts)).empty());
    CHECK(ok(d.search(t.people(), Scope::one, accounts)).size() == 3);
  }
  SECTION("base") {
    const auto one = ok(d.search(t.account_dn("bob"), Scope::base, "(objectClass=*)"));
    REQUIRE(one.size() == 1);
    CHECK(one[0].first("uid") == "bob");
    CHECK(ok(d.search(t.account_dn("bob"), Scope::base, "(uid=alice)")).empty());
  }
  SECTION("the whole directory (base \"\")") {
    const std::string f = "(zimbraMailDeliveryAddress=" + t.address("bob") + ")";
    const auto found = ok(d.search("", Scope::subtree, f));
    REQUIRE(found.size() == 1);
    CHECK(found[0].first("uid") == "bob");
  }
  SECTION("equality, case-insensitive") {
    const auto found = ok(
        d.search(t.base(), Scope::subtree, "(zimbraMailDeliveryAddress=ALICE@" + t.domain() + ")"));
    REQUIRE(found.size() == 1);
    CHECK(found[0].first("uid") == "alice");
  }
  SECTION("Zimbra's mail host query (an OR) finds an account by alias") {
    const std::string user = "a2@" + t.domain();
    const auto found =
        ok(d.search(t.base(), Scope::subtree,
                    "(|(zimbraMailDeliveryAddress=" + user + ")(zimbraMailAlias=" + user + "))"));
    REQUIRE(found.size() == 1);
    CHECK(found[0].first("uid") == "alice");
    CHECK(found[0].first("zimbraMailHost") == "mbox1.example.com");
  }
  SECTION("presence") {
    CHECK(dns_of(ok(d.search(t.base(), Scope::subtree, "(zimbraMailAlias=*)"))) ==
          std::vector<std::string>{t.account_dn("alice"), t.account_dn("bob")});
  }
  SECTION("substring") {
    CHECK(ok(d.search(t.base(), Scope::subtree, "(uid=al*)")).size() == 2);
    CHECK(ok(d.search(t.base(), Scope::subtree, "(zimbraMailDeliveryAddress=*@" + t.domain() + ")"))
              .size() == 3);
    CHECK(
        ok(d.search(t.base(), Scope::subtree, "(&(objectClass=zimbraAccount)(uid=*o*))")).size() ==
        1);
  }
  SECTION("no match is an empty result") {
    CHECK(ok(d.search(t.base(), Scope::subtree, "(uid=nobody)")).empty());
  }
  SECTION("a missing base is not_found") {
    const auto err = error_of(d.search("ou=missing," + t.base(), Scope::subtree, accounts));
    CHECK(err.code == Errc::not_found);
    CHECK(err.message.find('\n') == std::string::npos);
  }
}

TEST_CASE("directory: search limit", "[directory]") {
  TestTree t;
  for (const char* u : {"u1", "u2", "u3", "u4"}) {
    t.add_account(u);
  }
  CHECK(ok(t.dir().search(t.base(), Scope::subtree, "(objectClass=zimbraAccount)", 2)).size() == 2);
  CHECK(ok(t.dir().search(t.base(), Scope::subtree, "(objectClass=zimbraAccount)", 10)).size() ==
        4);
  CHECK(ok(t.dir().search(t.base(), Scope::subtree, "(objectClass=zimbraAccount)", 0)).size() == 4);
}

TEST_CASE("directory: modify", "[directory]") {
  TestTree t;
  t.add_account("dave", {"d1@x.test", "d2@x.test"});
  const std::string dn = t.account_dn("dave");
  Directory& d = t.dir();
  auto aliases = [&] {
    const Entry e = t.get(dn);
    return e.values("zimbraMailAlias") != nullptr ? sorted(*e.values("zimbraMailAlias")) : Values{};
  };

  SECTION("add skips values already present") {
    ok(d.modify(dn, {{ModOp::add, "zimbraMailAlias", {"d2@x.test", "d3@x.test"}}}));
    CHECK(aliases() == Values{"d1@x.test", "d2@x.test", "d3@x.test"});
    ok(d.modify(dn, {{ModOp::add, "zimbraMailAlias", {"d1@x.test"}}}));
    CHECK(aliases() == Values{"d1@x.test", "d2@x.test", "d3@x.test"});
  }
  SECTION("add creates an attribute; names are case-insensitive") {
    ok(d.modify(dn, {{ModOp::add, "ZIMBRAMAILSTATUS", {"enabled"}},
                     {ModOp::add, "zimbramailalias", {"d4@x.test"}}}));
    const Entry e = t.get(dn);
    CHECK(e.first("zimbraMailStatus") == "enabled");
    CHECK(aliases() == Values{"d1@x.test", "d2@x.test", "d4@x.test"});
  }
  SECTION("remove a value, and an absent one") {
    ok(d.modify(dn, {{ModOp::remove, "zimbraMailAlias", {"d1@x.test", "nope@x.test"}}}));
    CHECK(aliases() == Values{"d2@x.test"});
    ok(d.modify(dn, {{ModOp::remove, "zimbraMailAlias", {"nope@x.test"}}}));
    CHECK(aliases() == Values{"d2@x.test"});
    ok(d.modify(dn, {{ModOp::remove, "zimbraMailStatus", {"enabled"}}}));
    CHECK_FALSE(t.get(dn).has("zimbraMailStatus"));
  }
  SECTION("remove the last value removes the attribute") {
    ok(d.modify(dn, {{ModOp::remove, "zimbraMailAlias", {"d1@x.test", "d2@x.test"}}}));
    CHECK_FALSE(t.get(dn).has("zimbraMailAlias"));
  }
  SECTION("remove a whole attribute, present or not") {
    ok(d.modify(dn, {{ModOp::remove, "zimbraMailAlias", {}}}));
    CHECK_FALSE(t.get(dn).has("zimbraMailAlias"));
    ok(d.modify(dn, {{ModOp::remove, "zimbraMailAlias", {}}}));
    ok(d.modify(dn, {{ModOp::remove, "zimbraMailStatus", {}}}));
    CHECK(t.get(dn).first("uid") == "dave");
  }
  SECTION("replace, and replace with nothing") {
    ok(d.modify(dn, {{ModOp::replace, "zimbraMailAlias", {"r1@x.test", "r2@x.test"}},
                     {ModOp::replace, "zimbraMailHost", {"mbox2.example.com"}}}));
    CHECK(aliases() == Values{"r1@x.test", "r2@x.test"});
    CHECK(t.get(dn).first("zimbraMailHost") == "mbox2.example.com");
    ok(d.modify(dn, {{ModOp::replace, "zimbraMailAlias", {}}}));
    CHECK_FALSE(t.get(dn).has("zimbraMailAlias"));
    ok(d.modify(dn, {{ModOp::replace, "zimbraMailStatus", {}}}));
    CHECK_FALSE(t.get(dn).has("zimbraMailStatus"));
  }
  SECTION("several modifications apply in order, atomically") {
    ok(d.modify(dn, {{ModOp::remove, "zimbraMailAlias", {}},
                     {ModOp::add, "zimbraMailAlias", {"n1@x.test"}},
                     {ModOp::add, "zimbraMailAlias", {"n1@x.test", "n2@x.test"}},
                     {ModOp::remove, "zimbraMailAlias", {"n2@x.test", "d1@x.test"}}}));
    CHECK(aliases() == Values{"n1@x.test"});
  }
  SECTION("an empty modification list") {
    ok(d.modify(dn, {}));
    CHECK(aliases() == Values{"d1@x.test", "d2@x.test"});
  }
  SECTION("a missing entry is not_found") {
    const auto err =
        error_of(d.modify(t.account_dn("nobody"), {{ModOp::replace, "zimbraMailHost", {"h"}}}));
    CHECK(err.code == Errc::not_found);
    CHECK(err.message.find('\n') == std::string::npos);
    CHECK(error_of(d.modify(t.account_dn("nobody"), {})).code == Errc::not_found);
  }
}

TEST_CASE("directory: remove", "[directory]") {
  TestTree t;
  t.add_account("erin");
  Directory& d = t.dir();

  SECTION("a leaf") {
    ok(d.remove(t.account_dn("erin")));
    CHECK_FALSE(ok(d.get(t.account_dn("erin"))).has_value());
    CHECK(error_of(d.remove(t.account_dn("erin"))).code == Errc::not_found);
  }
  SECTION("a non-leaf is refused and kept") {
    const auto err = error_of(d.remove(t.people()));
    CHECK(err.code == Errc::invalid_argument);
    CHECK(err.message.find('\n') == std::string::npos);
    CHECK(ok(d.get(t.people())).has_value());
    CHECK(ok(d.get(t.account_dn("erin"))).has_value());
  }
}

TEST_CASE("directory: a bad filter is invalid_argument", "[directory]") {
  TestTree t;
  for (const char* f : {"(uid=alice", "(&(uid=a)", "((uid=a))", "(uid=a))"}) {
    INFO(f);
    const auto err = error_of(t.dir().search(t.base(), Scope::subtree, f));
    CHECK(err.code == Errc::invalid_argument);
    CHECK(err.message.find('\n') == std::string::npos);
  }
}

// LdapStore only.

namespace {

// A loopback port nothing listens on (bound, then released).
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
  ::close(fd);
  return ntohs(sa.sin_port);
}

}  // namespace

TEST_CASE("directory: LdapStore reports an unreachable server and a refused bind", "[directory]") {
  if (!on_ldap()) {
    WARN("skipped: ZMPROXY_TEST_LDAP_URL is not set");
    return;
  }
  SECTION("closed port") {
    LdapSettings s = ldap_settings();
    s.url = "ldap://127.0.0.1:" + std::to_string(closed_port());
    s.timeout_seconds = 3;
    const auto err = error_of(LdapStore::connect(s));
    CHECK(err.code == Errc::unavailable);
    CHECK(err.message.find(s.url) != std::string::npos);
    CHECK(err.message.find('\n') == std::string::npos);
  }
  SECTION("wrong password") {
    LdapSettings s = ldap_settings();
    s.password = "wrong-" + random_hex();
    const auto err = error_of(LdapStore::connect(s));
    CHECK(err.code == Errc::permission_denied);
    CHECK(err.message.find(s.url) != std::string::npos);
    CHECK(err.message.find(s.password) == std::string::npos);
    CHECK(err.message.find('\n') == std::string::npos);
  }
  SECTION("an invalid URL") {
    LdapSettings s = ldap_settings();
    s.url = "http://127.0.0.1:1";
    CHECK(error_of(LdapStore::connect(s)).code == Errc::invalid_argument);
  }
  SECTION("describe() is the URL") {
    const auto store = ok(LdapStore::connect(ldap_settings()));
    CHECK(store->describe() == ldap_settings().url);
  }
}

TEST_CASE("directory: LdapStore skips values equal under the server's matching rule",
          "[directory]") {
  if (!on_ldap()) {
    WARN("skipped: ZMPROXY_TEST_LDAP_URL is not set");
    return;
  }
  TestTree t;
  t.add_account("fred", {"f1@x.test"});
  const std::string dn = t.account_dn("fred");
  // zimbraMailAlias is caseIgnoreMatch: LDAP itself would answer typeOrValueExists
  // and noSuchAttribute here.
  ok(t.dir().modify(dn, {{ModOp::add, "zimbraMailAlias", {"F1@X.TEST", "f2@x.test"}}}));
  CHECK(sorted(*t.get(dn).values("zimbraMailAlias")) == Values{"f1@x.test", "f2@x.test"});
  ok(t.dir().modify(dn, {{ModOp::remove, "zimbraMailAlias", {"F2@X.TEST"}}}));
  CHECK(*t.get(dn).values("zimbraMailAlias") == Values{"f1@x.test"});
}

TEST_CASE("directory: LdapStore applies a modification list atomically", "[directory]") {
  if (!on_ldap()) {
    WARN("skipped: ZMPROXY_TEST_LDAP_URL is not set");
    return;
  }
  TestTree t;
  t.add_account("gail", {"g1@x.test"});
  const std::string dn = t.account_dn("gail");
  // The schema refuses the second modification, so the first is not applied either.
  const auto err = error_of(t.dir().modify(dn, {{ModOp::add, "zimbraMailAlias", {"g2@x.test"}},
                                                {ModOp::replace, "zimbraNoSuchAttribute", {"x"}}}));
  CHECK(err.code == Errc::invalid_argument);
  CHECK(err.message.find(dn) != std::string::npos);
  CHECK(*t.get(dn).values("zimbraMailAlias") == Values{"g1@x.test"});
  // An object class the server does not know.
  Entry e = t.account("hank");
  e.attrs["objectClass"].push_back("zimbraNoSuchClass");
  CHECK(error_of(t.dir().add(e)).code == Errc::invalid_argument);
}

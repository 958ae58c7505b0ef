#include "lib/provisioning/attr_changes.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace zmproxy::provisioning;
using zmproxy::Errc;
using zmproxy::Error;
using zmproxy::Result;
using zmproxy::schema::Kind;

namespace {

const std::vector<std::string> k_safeguarded = {"zimbraServiceEnabled", "zimbraServiceInstalled"};

std::vector<AttrChange> changes(const std::vector<std::string>& args) {
  auto parsed = parse_attr_args(args);
  REQUIRE(parsed.has_value());
  return *parsed;
}

std::vector<Modification> mods_of(Kind kind,
                                  const Entry* current,
                                  const std::vector<std::string>& args,
                                  bool allow_replace = false) {
  auto r = to_modifications(kind, current, changes(args), k_safeguarded, allow_replace);
  if (!r) {
    FAIL(r.error().message);
  }
  return *r;
}

Error refusal(Kind kind,
              const Entry* current,
              const std::vector<std::string>& args,
              bool allow_replace = false) {
  auto r = to_modifications(kind, current, changes(args), k_safeguarded, allow_replace);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::invalid_argument);
  CHECK(r.error().message.find('\n') == std::string::npos);
  return r.error();
}

bool same(const Modification& m, ModOp op, const std::string& attr, const Values& values) {
  return m.op == op && m.attr == attr && m.values == values;
}

}  // namespace

TEST_CASE("attr_changes: name value pairs, + adds, - removes", "[provisioning]") {
  const auto c = changes({"zimbraMailAlias", "a@x.test", "+zimbraMailAlias", "b@x.test",
                          "-zimbraMailAlias", "c@x.test", "cn", ""});
  REQUIRE(c.size() == 4);
  CHECK((c[0].op == AttrChange::Op::set && c[0].attr == "zimbraMailAlias" &&
         c[0].value == "a@x.test"));
  CHECK((c[1].op == AttrChange::Op::add && c[1].attr == "zimbraMailAlias"));
  CHECK((c[2].op == AttrChange::Op::remove && c[2].value == "c@x.test"));
  CHECK((c[3].op == AttrChange::Op::set && c[3].value.empty()));
  CHECK(changes({}).empty());

  const std::vector<std::string> odd = {"cn", "a", "sn"};
  const auto r = parse_attr_args(odd);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::invalid_argument);
  CHECK(r.error().zimbra_code == "service.INVALID_REQUEST");
  CHECK(r.error().message.find("'sn' has no value") != std::string::npos);
}

TEST_CASE("attr_changes: managed attributes", "[provisioning]") {
  CHECK(is_managed_attr("zimbraId"));
  CHECK(is_managed_attr("ZIMBRAID"));
  CHECK(is_managed_attr("uid"));
  CHECK(is_managed_attr("zimbraDomainAliasTargetId"));
  CHECK_FALSE(is_managed_attr("zimbraMailAlias"));
  CHECK_FALSE(is_managed_attr("zimbraIdX"));
}

TEST_CASE("attr_changes: per attribute a replace, then removes, then adds", "[provisioning]") {
  const auto m =
      mods_of(Kind::account, nullptr,
              {"+zimbraMailAlias", "b@x.test", "zimbraaccountstatus", "locked", "-zimbraMailAlias",
               "c@x.test", "zimbraMailAlias", "a@x.test", "+zimbraMailAlias", "d@x.test"});
  REQUIRE(m.size() == 4);
  // In the order each attribute was first named; canonical spelling.
  CHECK(same(m[0], ModOp::replace, "zimbraMailAlias", {"a@x.test"}));
  CHECK(same(m[1], ModOp::remove, "zimbraMailAlias", {"c@x.test"}));
  CHECK(same(m[2], ModOp::add, "zimbraMailAlias", {"b@x.test", "d@x.test"}));
  CHECK(same(m[3], ModOp::replace, "zimbraAccountStatus", {"locked"}));
}

TEST_CASE("attr_changes: '' clears, values are normalised", "[provisioning]") {
  auto m = mods_of(Kind::server, nullptr, {"zimbraReverseProxyLookupTarget", "true"});
  REQUIRE(m.size() == 1);
  CHECK(same(m[0], ModOp::replace, "zimbraReverseProxyLookupTarget", {"TRUE"}));

  m = mods_of(Kind::server, nullptr, {"zimbraImapProxyBindPort", ""});
  REQUIRE(m.size() == 1);
  CHECK(same(m[0], ModOp::replace, "zimbraImapProxyBindPort", {}));

  CHECK(mods_of(Kind::global, nullptr, {}).empty());
}

TEST_CASE("attr_changes: refusals name the attribute and carry Zimbra's code", "[provisioning]") {
  const Entry existing{"cn=mbox1.x.test,cn=servers,cn=zimbra",
                       {{"zimbraServiceEnabled", {"imap", "pop3"}}}};

  auto e = refusal(Kind::server, nullptr, {"zimbraImapProxyBindPrt", "143"});
  CHECK(e.zimbra_code == "account.INVALID_ATTR_NAME");
  CHECK(e.message.find("did you mean zimbraImapProxyBindPort?") != std::string::npos);

  e = refusal(Kind::domain, nullptr, {"zimbraImapProxyBindPort", "143"});
  CHECK(e.zimbra_code == "account.INVALID_ATTR_NAME");
  CHECK(e.message ==
        "zimbraImapProxyBindPort cannot be set on a domain; it belongs on "
        "globalConfig, server");

  e = refusal(Kind::account, nullptr, {"userPassword", "secret"});
  CHECK(e.zimbra_code == "service.INVALID_REQUEST");
  CHECK(e.message.find("setPassword") != std::string::npos);

  e = refusal(Kind::server, &existing, {"zimbraId", "00000000-0000-0000-0000-000000000000"});
  CHECK(e.zimbra_code == "service.INVALID_REQUEST");
  CHECK(e.message == "zimbraId is maintained by zmprov and cannot be changed");

  e = refusal(Kind::server, nullptr, {"+zimbraImapProxyBindPort", "143"});
  CHECK(e.zimbra_code == "account.INVALID_ATTR_VALUE");
  CHECK(e.message.find("single-valued") != std::string::npos);
  CHECK(e.message.find("instead of +zimbraImapProxyBindPort") != std::string::npos);

  e = refusal(Kind::server, nullptr,
              {"zimbraImapProxyBindPort", "143", "zimbraImapProxyBindPort", "144"});
  CHECK(e.zimbra_code == "account.INVALID_ATTR_VALUE");
  CHECK(e.message == "zimbraImapProxyBindPort is single-valued but was given 2 values");

  e = refusal(Kind::server, nullptr, {"zimbraImapProxyBindPort", "seventy"});
  CHECK(e.zimbra_code == "account.INVALID_ATTR_VALUE");
}

TEST_CASE("attr_changes: a managed attribute may be given on a create", "[provisioning]") {
  const auto m =
      mods_of(Kind::server, nullptr, {"zimbraId", "00000000-0000-0000-0000-000000000001"});
  REQUIRE(m.size() == 1);
  CHECK(m[0].attr == "zimbraId");
}

TEST_CASE("attr_changes: safeguarded attributes are replaced only when allowed", "[provisioning]") {
  const Entry with{"cn=s,cn=servers,cn=zimbra", {{"zimbraServiceEnabled", {"imap"}}}};
  const Entry without{"cn=s,cn=servers,cn=zimbra", {}};

  const auto e = refusal(Kind::server, &with, {"zimbraServiceEnabled", "pop3"});
  CHECK(e.zimbra_code == "service.INVALID_REQUEST");
  CHECK(e.message.find("unless -r is specified (zimbraServiceEnabled;") != std::string::npos);

  // -r, no current value, a create, a clear, or +/-: allowed.
  CHECK(mods_of(Kind::server, &with, {"zimbraServiceEnabled", "pop3"}, true).size() == 1);
  CHECK(mods_of(Kind::server, &without, {"zimbraServiceEnabled", "pop3"}).size() == 1);
  CHECK(mods_of(Kind::server, nullptr, {"zimbraServiceEnabled", "pop3"}).size() == 1);
  CHECK(mods_of(Kind::server, &with, {"zimbraServiceEnabled", ""}).size() == 1);
  const auto add = mods_of(Kind::server, &with, {"+zimbraServiceEnabled", "pop3"});
  REQUIRE(add.size() == 1);
  CHECK(same(add[0], ModOp::add, "zimbraServiceEnabled", {"pop3"}));
}

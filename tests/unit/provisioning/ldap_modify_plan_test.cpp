#include "lib/provisioning/ldap_modify_plan.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

using namespace zmproxy::provisioning;
using zmproxy::Errc;
using zmproxy::Result;

namespace {

struct Question {
  std::string attr;
  std::string value;
  bool touched;
  bool ask_server;
};

// Byte equality, or (when allowed to ask and not touched) the server's
// caseIgnoreMatch; records every question.
struct CaseIgnoringServer {
  std::vector<Question> asked;

  IsPresent is_present() {
    return [this](const std::string& attr, const std::string& value, const Values* current,
                  bool touched, bool ask_server) -> Result<bool> {
      asked.push_back({attr, value, touched, ask_server});
      if (holds_value(current, value)) {
        return true;
      }
      if (touched || !ask_server || current == nullptr) {
        return false;
      }
      for (const std::string& v : *current) {
        if (v.size() == value.size() &&
            std::equal(v.begin(), v.end(), value.begin(), [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a)) ==
                     std::tolower(static_cast<unsigned char>(b));
            })) {
          return true;
        }
      }
      return false;
    };
  }
};

std::vector<Modification> plan(const AttrMap& attrs,
                               const std::vector<Modification>& mods,
                               CaseIgnoringServer& server,
                               bool thorough = false) {
  auto r = plan_modifications(attrs, mods, server.is_present(), thorough);
  if (!r) {
    FAIL(r.error().message);
  }
  return *r;
}

bool same(const Modification& m, ModOp op, const std::string& attr, const Values& values) {
  return m.op == op && m.attr == attr && m.values == values;
}

}  // namespace

TEST_CASE("ldap_modify_plan: holds_value is byte equality", "[provisioning]") {
  const Values v = {"a", "B"};
  CHECK(holds_value(&v, "a"));
  CHECK_FALSE(holds_value(&v, "b"));
  CHECK_FALSE(holds_value(nullptr, "a"));
}

TEST_CASE("ldap_modify_plan: present values leave adds, absent ones leave removes",
          "[provisioning]") {
  CaseIgnoringServer server;
  const AttrMap attrs = {{"mail", {"a@x", "b@x"}}};
  const auto p = plan(
      attrs, {{ModOp::add, "mail", {"a@x", "c@x", "c@x"}}, {ModOp::remove, "mail", {"b@x", "z@x"}}},
      server);
  REQUIRE(p.size() == 2);
  CHECK(same(p[0], ModOp::add, "mail", {"c@x"}));
  CHECK(same(p[1], ModOp::remove, "mail", {"b@x"}));
}

TEST_CASE("ldap_modify_plan: modifications with nothing left to do are dropped", "[provisioning]") {
  CaseIgnoringServer server;
  const AttrMap attrs = {{"mail", {"a@x"}}};
  CHECK(plan(attrs, {{ModOp::add, "mail", {"a@x"}}}, server).empty());
  CHECK(plan(attrs, {{ModOp::remove, "mail", {"q@x"}}}, server).empty());
  CHECK(plan(attrs, {{ModOp::remove, "cn", {}}}, server).empty());  // no such attribute
  CHECK(plan(attrs, {{ModOp::remove, "cn", {"x"}}}, server).empty());
  // A whole-attribute remove of one the entry has, and replaces, always go.
  const auto p =
      plan(attrs, {{ModOp::remove, "MAIL", {}}, {ModOp::replace, "cn", {"x", "x"}}}, server);
  REQUIRE(p.size() == 2);
  CHECK(same(p[0], ModOp::remove, "MAIL", {}));
  CHECK(same(p[1], ModOp::replace, "cn", {"x"}));
}

TEST_CASE("ldap_modify_plan: later modifications see earlier ones", "[provisioning]") {
  CaseIgnoringServer server;
  const AttrMap attrs = {{"mail", {"a@x"}}};
  const auto p = plan(attrs,
                      {{ModOp::remove, "mail", {"a@x"}},
                       {ModOp::add, "mail", {"a@x"}},
                       {ModOp::replace, "cn", {"n"}},
                       {ModOp::remove, "cn", {"n"}}},
                      server);
  REQUIRE(p.size() == 4);
  CHECK(same(p[1], ModOp::add, "mail", {"a@x"}));  // removed just before: absent again
  CHECK(same(p[3], ModOp::remove, "cn", {"n"}));   // replaced just before: present
  REQUIRE(server.asked.size() == 3);
  CHECK_FALSE(server.asked[0].touched);
  CHECK(server.asked[1].touched);
  CHECK(server.asked[2].touched);
}

TEST_CASE("ldap_modify_plan: adds ask the server only when thorough, removes always may",
          "[provisioning]") {
  const AttrMap attrs = {{"mail", {"a@x"}}};
  {
    CaseIgnoringServer server;
    const auto p = plan(attrs, {{ModOp::add, "mail", {"A@X"}}}, server);
    REQUIRE(p.size() == 1);  // bytes only: sent, and the server may refuse it
    REQUIRE(server.asked.size() == 1);
    CHECK_FALSE(server.asked[0].ask_server);
  }
  {
    CaseIgnoringServer server;
    CHECK(plan(attrs, {{ModOp::add, "mail", {"A@X"}}}, server, true).empty());
    CHECK(server.asked.at(0).ask_server);
  }
  {
    CaseIgnoringServer server;
    const auto p = plan(attrs, {{ModOp::remove, "mail", {"A@X"}}}, server);
    REQUIRE(p.size() == 1);
    CHECK(same(p[0], ModOp::remove, "mail", {"A@X"}));
    CHECK(server.asked.at(0).ask_server);
  }
}

TEST_CASE("ldap_modify_plan: an error of the question ends the plan", "[provisioning]") {
  const IsPresent broken = [](const std::string&, const std::string&, const Values*, bool,
                              bool) -> Result<bool> {
    return zmproxy::fail(Errc::unavailable, "cannot reach the LDAP server");
  };
  const auto r =
      plan_modifications({{"mail", {"a@x"}}}, {{ModOp::add, "mail", {"b@x"}}}, broken, false);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::unavailable);
}

// The zmprov command table and its dispatch, over a FileStore in a temp dir.

#include "lib/provisioning/prov_shell.hpp"

#include "lib/core/strings.hpp"
#include "lib/provisioning/file_store.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace zmproxy::provisioning;
using zmproxy::core::to_lower;

namespace {

// A shell over a fresh FileStore; out() and err() what the last run printed.
class Shell {
 public:
  Shell() {
    auto store = FileStore::open(m_dir.path() / "prov.ldif");
    REQUIRE(store.has_value());
    m_store = std::move(*store);
    m_prov = std::make_unique<Provisioning>(*m_store, std::vector<std::string>{});
    m_shell = std::make_unique<ProvShell>(*m_prov, ProvOptions{}, m_out, m_err);
  }

  ProvStatus run(const std::vector<std::string>& args) {
    m_out.str({});
    m_err.str({});
    return m_shell->run(args);
  }
  std::string out() const { return m_out.str(); }
  std::string err() const { return m_err.str(); }

 private:
  zmproxy::test::TempDir m_dir;
  std::unique_ptr<FileStore> m_store;
  std::unique_ptr<Provisioning> m_prov;
  std::ostringstream m_out;
  std::ostringstream m_err;
  std::unique_ptr<ProvShell> m_shell;
};

bool is_usage_of(const std::string& out, const std::string& name) {
  return out.rfind("usage:  " + name + "(", 0) == 0;
}

}  // namespace

TEST_CASE("prov_shell: every row of the command table is complete and distinct", "[provisioning]") {
  std::set<std::string> seen;
  for (const ProvCommandInfo& c : prov_commands()) {
    INFO(c.name);
    CHECK(seen.insert(to_lower(c.name)).second);
    CHECK(seen.insert(to_lower(c.alias)).second);
    CHECK(c.handler != nullptr);
    CHECK(c.min_args >= 0);
    CHECK((c.max_args < 0 || c.max_args >= c.min_args));
    if (c.attr_from >= 0) {
      CHECK(c.kind.has_value());
    }
    if (c.attr_values) {
      CHECK(c.attr_from >= 0);
    }
    CHECK(find_prov_command(c.name) == &c);
    CHECK(find_prov_command(c.alias) == &c);
  }
  CHECK(find_prov_command("CREATEACCOUNT") == find_prov_command("ca"));
  CHECK(find_prov_command("nosuchcommand") == nullptr);
}

TEST_CASE("prov_shell: only help, describe, exit and flushCache run without the store",
          "[provisioning]") {
  std::set<std::string> offline;
  for (const ProvCommandInfo& c : prov_commands()) {
    if (!c.needs_store) {
      offline.insert(std::string(c.name));
    }
  }
  CHECK(offline == std::set<std::string>{"describe", "exit", "flushCache", "help"});
}

TEST_CASE("prov_shell: command lines split as a shell would", "[provisioning]") {
  auto words = split_command_line(R"(ma user@x.test  cn "Fred \"F\" Smith" sn 'O''Neil' a\ b)");
  REQUIRE(words.has_value());
  CHECK(*words == std::vector<std::string>{"ma", "user@x.test", "cn", "Fred \"F\" Smith", "sn",
                                           "ONeil", "a b"});
  CHECK(split_command_line("gacf ''")->size() == 2);
  CHECK(split_command_line("   ")->empty());
  CHECK_FALSE(split_command_line("ca 'unterminated").has_value());
}

TEST_CASE("prov_shell: argument counts outside a row's bounds print its usage", "[provisioning]") {
  Shell sh;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"ca", "a@x.test"}, "createAccount"},                 // too few
      {{"ca", "a@x.test", "pw", "cn"}, "createAccount"},     // an attribute without value
      {{"cd"}, "createDomain"},                              // too few
      {{"cd", "x.test", "cn"}, "createDomain"},              // odd pairs
      {{"ma", "a@x.test", "cn"}, "modifyAccount"},           // too few
      {{"mcf", "zimbraImapProxyBindPort"}, "modifyConfig"},  // too few
      {{"da"}, "deleteAccount"},                             // too few
      {{"dd", "a.test", "b.test"}, "deleteDomain"},          // too many
      {{"gcf"}, "getConfig"},                                // too few
      {{"gcf", "a", "b"}, "getConfig"},                      // too many
      {{"sp", "a@x.test"}, "setPassword"},                   // too few
      {{"aaa", "a@x.test", "b@x.test", "c@x.test"}, "addAccountAlias"},  // too many
      {{"ga"}, "getAccount"},
      {{"ga", "-e"}, "getAccount"},  // the handler's own check: -e is no name
      {{"gas", "a", "b"}, "getAllServers"},
      {{"fc", "-a"}, "flushCache"},
      {{"sa"}, "searchAccounts"},
  };
  for (const auto& [args, name] : cases) {
    INFO(args[0] << " with " << args.size() - 1 << " arguments");
    CHECK(sh.run(args) == ProvStatus::usage);
    CHECK(is_usage_of(sh.out(), name));
    CHECK(sh.err().empty());
  }
}

TEST_CASE("prov_shell: commands reach their handlers", "[provisioning]") {
  Shell sh;
  CHECK(sh.run({"nosuchcommand"}) == ProvStatus::usage);
  CHECK(sh.out() == "Unknown command. Type: 'zmprov help commands' for a list\n");
  CHECK(sh.run({}) == ProvStatus::ok);
  CHECK(sh.run({"exit"}) == ProvStatus::ok);

  REQUIRE(sh.run({"help"}) == ProvStatus::ok);
  for (const ProvCommandInfo& c : prov_commands()) {
    CHECK(sh.out().find("  " + std::string(c.name) + "(" + std::string(c.alias) + ") ") !=
          std::string::npos);
  }

  REQUIRE(sh.run({"cd", "x.test"}) == ProvStatus::ok);
  CHECK(sh.out().size() == 37);  // the new zimbraId and a newline
  REQUIRE(sh.run({"cs", "mbox1.x.test", "zimbraServiceEnabled", "imap"}) == ProvStatus::ok);
  REQUIRE(sh.run({"ca", "fred@x.test", "secret", "cn", "Fred"}) == ProvStatus::ok);
  REQUIRE(sh.run({"aaa", "fred@x.test", "f@x.test"}) == ProvStatus::ok);

  REQUIRE(sh.run({"ga", "f@x.test", "cn", "zimbraMailAlias"}) == ProvStatus::ok);
  CHECK(sh.out() == "# name fred@x.test\ncn: Fred\nzimbraMailAlias: f@x.test\n\n");
  REQUIRE(sh.run({"gas", "imap"}) == ProvStatus::ok);
  CHECK(sh.out() == "mbox1.x.test\n");
  REQUIRE(sh.run({"gad"}) == ProvStatus::ok);
  CHECK(sh.out() == "x.test\n");
  REQUIRE(sh.run({"sa", "cn=Fred"}) == ProvStatus::ok);
  CHECK(sh.out() == "fred@x.test\n");

  REQUIRE(sh.run({"mcf", "zimbraImapProxyBindPort", "1143"}) == ProvStatus::ok);
  REQUIRE(sh.run({"gcf", "zimbraImapProxyBindPort"}) == ProvStatus::ok);
  CHECK(sh.out() == "zimbraImapProxyBindPort: 1143\n");
  REQUIRE(sh.run({"ms", "mbox1.x.test", "zimbraImapProxyBindPort", "2143"}) == ProvStatus::ok);
  REQUIRE(sh.run({"gs", "mbox1.x.test", "zimbraImapProxyBindPort"}) == ProvStatus::ok);
  CHECK(sh.out() == "# name mbox1.x.test\nzimbraImapProxyBindPort: 2143\n\n");

  REQUIRE(sh.run({"raa", "fred@x.test", "f@x.test"}) == ProvStatus::ok);
  CHECK(sh.run({"ga", "f@x.test"}) == ProvStatus::failed);
  CHECK(sh.err() == "ERROR: account.NO_SUCH_ACCOUNT (no such account: f@x.test)\n");
  REQUIRE(sh.run({"da", "fred@x.test"}) == ProvStatus::ok);
  REQUIRE(sh.run({"ds", "mbox1.x.test"}) == ProvStatus::ok);
  REQUIRE(sh.run({"dd", "x.test"}) == ProvStatus::ok);
  REQUIRE(sh.run({"gad"}) == ProvStatus::ok);
  CHECK(sh.out().empty());

  CHECK(sh.run({"fc", "account"}) == ProvStatus::ok);
  CHECK(sh.run({"desc", "-a", "zimbraImapProxyBindPort"}) == ProvStatus::ok);
  CHECK(sh.out().rfind("zimbraImapProxyBindPort\n", 0) == 0);
}

TEST_CASE("prov_shell: a password of '-' is read, or refused without a reader", "[provisioning]") {
  Shell sh;
  REQUIRE(sh.run({"cd", "x.test"}) == ProvStatus::ok);
  CHECK(sh.run({"ca", "fred@x.test", "-"}) == ProvStatus::failed);
  CHECK(sh.err().find("'-' reads the password from the terminal") != std::string::npos);
}

#include "lib/localconfig/command.hpp"

#include "lib/core/atomic_file.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace zmproxy;
using localconfig::CommandOptions;

namespace {
struct Run {
  int rc;
  std::string out;
  std::string err;
};
Run run(const test::TempDir& dir, CommandOptions o) {
  o.home = dir.path();
  std::ostringstream out;
  std::ostringstream err;
  const int rc = localconfig::run_command(o, out, err);
  return {rc, out.str(), err.str()};
}
CommandOptions opts(std::vector<std::string> args) {
  CommandOptions o;
  o.args = std::move(args);
  return o;
}
}  // namespace

TEST_CASE("edit then read back as nokey", "[localconfig][command]") {
  test::TempDir dir;
  auto e = opts({"zimbra_server_hostname=mail.example.com"});
  e.edit = true;
  REQUIRE(run(dir, e).rc == 0);
  auto g = opts({"zimbra_server_hostname"});
  g.format = "nokey";
  const auto r = run(dir, g);
  CHECK(r.rc == 0);
  CHECK(r.out == "mail.example.com\n");
}

TEST_CASE("usage errors exit 2 with one line", "[localconfig][command]") {
  test::TempDir dir;
  auto e = opts({"badform"});
  e.edit = true;
  auto r = run(dir, e);
  CHECK(r.rc == 2);
  CHECK(r.err == "zmlocalconfig: argument 'badform' not in key=value form\n");
  CHECK_FALSE(std::filesystem::exists(dir.path() / "conf/localconfig.toml"));

  auto f = opts({});
  f.format = "xml";
  CHECK(run(dir, f).rc == 2);
}

TEST_CASE("passwords are masked unless shown", "[localconfig][command]") {
  test::TempDir dir;
  auto plain = run(dir, opts({"zimbra_ldap_password", "zimbra_ldap_userdn"}));
  CHECK(plain.out ==
        "zimbra_ldap_password = *\nzimbra_ldap_userdn = uid=zimbra,cn=admins,cn=zimbra\n");
  auto s = opts({"zimbra_ldap_password"});
  s.show_secrets = true;
  CHECK(run(dir, s).out == "zimbra_ldap_password = zimbra\n");
}

TEST_CASE("shell and export formats quote safely and expand", "[localconfig][command]") {
  test::TempDir dir;
  auto e = opts({"motd=it's ${zimbra_server_hostname}"});
  e.edit = true;
  e.quiet = true;
  REQUIRE(run(dir, e).rc == 0);
  auto sh = opts({"motd"});
  sh.format = "shell";
  CHECK(run(dir, sh).out == "motd='it'\\''s localhost';\n");
  sh.format = "export";
  CHECK(run(dir, sh).out == "export motd='it'\\''s localhost';\n");
}

TEST_CASE("unknown keys get a note with a suggestion", "[localconfig][command]") {
  test::TempDir dir;
  auto e = opts({"zimbra_server_hostnam=x"});
  e.edit = true;
  auto r = run(dir, e);
  CHECK(r.rc == 0);
  CHECK(r.err.find("did you mean zimbra_server_hostname?") != std::string::npos);
}

TEST_CASE("zmlocalconfig -n lists changed keys only, -d defaults, -u unsets", "[localconfig][command]") {
  test::TempDir dir;
  auto e = opts({"imap_max_idle_time=90", "pop3_max_idle_time=60"});
  e.edit = true;
  REQUIRE(run(dir, e).rc == 0);
  auto n = opts({});
  n.changed = true;
  CHECK(run(dir, n).out == "imap_max_idle_time = 90\n");
  auto d = opts({"imap_max_idle_time"});
  d.defaults = true;
  CHECK(run(dir, d).out == "imap_max_idle_time = 60\n");
  auto u = opts({"imap_max_idle_time"});
  u.unset = true;
  CHECK(run(dir, u).rc == 0);
  CHECK(run(dir, u).rc == 1);  // no longer set
  CHECK(run(dir, opts({"imap_max_idle_time"})).out == "imap_max_idle_time = 60\n");
}

TEST_CASE("a corrupted file fails with one line and is left untouched", "[localconfig][command]") {
  test::TempDir dir;
  const auto file = dir.path() / "conf/localconfig.toml";
  std::filesystem::create_directories(file.parent_path());
  const std::string broken = "zimbra_server_hostname = \"unterminated\n";
  REQUIRE(core::write_file_atomic(file, broken));
  auto e = opts({"ldap_url=ldap://x"});
  e.edit = true;
  auto r = run(dir, e);
  CHECK(r.rc == 1);
  CHECK(r.err.rfind("zmlocalconfig: " + file.string() + ":1:", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(core::read_file(file).value() == broken);
}

TEST_CASE("asking for an unset unknown key fails", "[localconfig][command]") {
  test::TempDir dir;
  auto r = run(dir, opts({"no_such_key"}));
  CHECK(r.rc == 1);
  CHECK(r.err == "zmlocalconfig: key no_such_key is not set\n");
}

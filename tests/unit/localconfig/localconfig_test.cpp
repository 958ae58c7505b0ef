#include "lib/localconfig/localconfig.hpp"

#include "lib/core/atomic_file.hpp"
#include "lib/localconfig/keys.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace zmproxy;
using localconfig::LocalConfig;

TEST_CASE("known keys are sorted and carry Zimbra's defaults", "[localconfig]") {
  const auto keys = localconfig::known_keys();
  CHECK(std::is_sorted(keys.begin(), keys.end(),
                       [](const auto& a, const auto& b) { return a.name < b.name; }));
  test::TempDir dir;
  auto lc = LocalConfig::load(dir.path() / "conf/localconfig.toml", dir.path());
  REQUIRE(lc);
  CHECK(lc->get("zimbra_server_hostname") == "localhost");
  CHECK(lc->get("ldap_url") == "");
  CHECK(lc->get("zimbra_ldap_userdn") == "uid=zimbra,cn=admins,cn=zimbra");
  CHECK(lc->get("imap_max_idle_time") == "60");
  CHECK(lc->get("imap_authenticated_max_idle_time") == "1800");
  CHECK(lc->get("pop3_max_idle_time") == "60");
  CHECK(lc->get("zmconfigd_interval") == "60");
  CHECK(lc->get("zimbra_http_originating_ip_header") == "X-Forwarded-For");
  CHECK(lc->get("zmprov_safeguarded_attrs") == "zimbraServiceEnabled,zimbraServiceInstalled");
  CHECK(lc->get("zimbra_home") == dir.path().string());
  CHECK(lc->expanded("krb5_keytab").value() == dir.path().string() + "/conf/krb5.keytab");
  CHECK_FALSE(lc->get("no_such_key"));
  CHECK(lc->integer("imap_max_idle_time", 0) == 60);
}

TEST_CASE("set, save and load round-trip, including awkward values", "[localconfig]") {
  test::TempDir dir;
  const auto file = dir.path() / "conf/localconfig.toml";
  auto lc = LocalConfig::load(file, dir.path()).value();
  REQUIRE(lc.set("zimbra_server_hostname", "mail.example.com"));
  REQUIRE(lc.set("ldap_root_password", R"(p"a\ss'w)"));
  REQUIRE(lc.set("custom_key", "ünïcode"));
  REQUIRE(lc.save());
  auto again = LocalConfig::load(file, dir.path()).value();
  CHECK(again.get("zimbra_server_hostname") == "mail.example.com");
  CHECK(again.get("ldap_root_password") == R"(p"a\ss'w)");
  CHECK(again.get("custom_key") == "ünïcode");
  CHECK(again.is_set("custom_key"));
  CHECK_FALSE(again.is_set("ldap_url"));
}

TEST_CASE("typed keys refuse values of the wrong type", "[localconfig]") {
  test::TempDir dir;
  auto lc = LocalConfig::load(dir.path() / "l.toml", dir.path()).value();
  CHECK_FALSE(lc.set("imap_max_idle_time", "sixty"));
  CHECK_FALSE(lc.set("zmconfigd_enable_config_restarts", "maybe"));
  CHECK_FALSE(lc.set("bad key", "x"));
  CHECK_FALSE(lc.set("zimbra_server_hostname", "two\nlines"));
  CHECK(lc.set("imap_max_idle_time", "90"));
  auto u = lc.unset("ldap_url");
  REQUIRE_FALSE(u);
  CHECK(u.error().message == "key ldap_url is not set");
}

TEST_CASE("hand-written values of other TOML types read as text", "[localconfig]") {
  test::TempDir dir;
  const auto file = dir.path() / "l.toml";
  REQUIRE(core::write_file_atomic(file, "imap_max_idle_time = 90\nflag = true\n"));
  auto lc = LocalConfig::load(file, dir.path()).value();
  CHECK(lc.get("imap_max_idle_time") == "90");
  CHECK(lc.get("flag") == "true");
}

TEST_CASE("a corrupted file is one error naming file and line", "[localconfig]") {
  test::TempDir dir;
  const auto file = dir.path() / "localconfig.toml";
  REQUIRE(core::write_file_atomic(file, "a = \"1\"\nb = \"2\"\nc = = broken\n"));
  auto lc = LocalConfig::load(file, dir.path());
  REQUIRE_FALSE(lc);
  const std::string msg = lc.error().message;
  CHECK(msg.rfind(file.string() + ":3:", 0) == 0);
  CHECK(msg.find('\n') == std::string::npos);

  REQUIRE(core::write_file_atomic(file, "ok = \"1\"\n[section]\nx = 1\n"));
  auto nested = LocalConfig::load(file, dir.path());
  REQUIRE_FALSE(nested);
  CHECK(nested.error().message.find("section") != std::string::npos);
  CHECK(nested.error().message.find(":2:") != std::string::npos);
}

// Found by tests/fuzz/localconfig_fuzz.cpp (corpus/localconfig/header_no_key):
// toml++ 3.3 asserted on a table header starting with no key and aborted the
// process in builds with assertions on (lib/core/toml.hpp turns them off).
TEST_CASE("a table header without a key is an error, not an abort (fuzz localconfig)",
          "[localconfig]") {
  test::TempDir dir;
  const auto file = dir.path() / "localconfig.toml";
  for (const char* text : {"[\nee", "[(", "[[=", "[[[1]]]"}) {
    REQUIRE(core::write_file_atomic(file, text));
    auto lc = LocalConfig::load(file, dir.path());
    REQUIRE_FALSE(lc);
    CHECK(lc.error().message.rfind(file.string() + ":1:", 0) == 0);
  }
}

TEST_CASE("reference expansion, unknown references and loops", "[localconfig]") {
  test::TempDir dir;
  auto lc = LocalConfig::load(dir.path() / "l.toml", dir.path()).value();
  REQUIRE(lc.set("a", "${b}/x"));
  REQUIRE(lc.set("b", "${c}"));
  REQUIRE(lc.set("c", "root"));
  REQUIRE(lc.set("u", "${nope}"));
  CHECK(lc.expanded("a").value() == "root/x");
  CHECK(lc.expanded("u").value() == "${nope}");
  REQUIRE(lc.set("c", "${a}"));
  auto loop = lc.expanded("a");
  REQUIRE_FALSE(loop);
  CHECK(loop.error().message.find("refers back") != std::string::npos);
}

TEST_CASE("references that double at each level are refused past 64 KiB, not expanded",
          "[localconfig]") {
  test::TempDir dir;
  auto lc = LocalConfig::load(dir.path() / "l.toml", dir.path()).value();
  for (int i = 0; i < 40; ++i) {
    REQUIRE(lc.set("k" + std::to_string(i),
                   "${k" + std::to_string(i + 1) + "}${k" + std::to_string(i + 1) + "}"));
  }
  REQUIRE(lc.set("k40", "x"));
  CHECK(lc.expanded("k30").value() == std::string(1024, 'x'));
  auto bomb = lc.expanded("k0");
  REQUIRE_FALSE(bomb);
  CHECK(bomb.error().message ==
        "localconfig key k0 expands to more than 65536 bytes; fix the ${...} references with "
        "zmlocalconfig -e");
}

TEST_CASE("the GSSAPI keys (issue 16): defaults, the master password a secret", "[localconfig]") {
  test::TempDir dir;
  auto lc = LocalConfig::load(dir.path() / "l.toml", dir.path()).value();
  CHECK(lc.get("zm_lookup_master_auth_username") == "zmnginx");
  CHECK(lc.get("ldap_nginx_password") == "zmnginx");
  CHECK(lc.get("zmproxy_gssapi_upstream_login") == "zimbra");
  CHECK(lc.get("zmproxy_gssapi_master_user") == "");
  CHECK(lc.get("zmproxy_gssapi_master_password") == "");
  CHECK(lc.get("krb5_service_principal_from_interface_address") == "false");
  for (const char* key : {"zm_lookup_master_auth_username", "zmproxy_gssapi_upstream_login",
                          "zmproxy_gssapi_master_user", "zmproxy_gssapi_master_password"}) {
    INFO(key);
    const auto* info = localconfig::find_key(key);
    REQUIRE(info != nullptr);
    CHECK(info->type == localconfig::KeyType::string);
    CHECK_FALSE(info->description.empty());
  }
  CHECK(localconfig::is_secret_key("zmproxy_gssapi_master_password"));
  CHECK(localconfig::is_secret_key("ldap_nginx_password"));
  CHECK_FALSE(localconfig::is_secret_key("zmproxy_gssapi_master_user"));
}

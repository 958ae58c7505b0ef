// The shipped templates/zmproxy.conf.template renders a [kerberos] section
// and imap/pop3.sasl_gssapi that parse, with GSSAPI off (the default: no
// keytab needed) and on (the attributes and localconfig keys land in their
// keys, TOML-escaped), and the printed (masked) rendering hides its passwords.

#include "lib/confgen/secret_variables.hpp"
#include "lib/confgen/variables.hpp"
#include "lib/config/proxy_config.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/provisioning/file_store.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace zmproxy;
using provisioning::AttrChange;

namespace {

// templates/zmproxy.conf.template of the tree this test was built from:
// found above the test binary (the build tree lives in the source tree).
std::filesystem::path shipped_template() {
  std::error_code ec;
  auto dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (; !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / "templates" / "zmproxy.conf.template")) {
      return dir / "templates" / "zmproxy.conf.template";
    }
  }
  return {};
}

AttrChange set(std::string attr, std::string value) {
  return {AttrChange::Op::set, std::move(attr), std::move(value)};
}

template <class R>
void require_ok(const R& r) {
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r);
}

// An embedded store with only globalConfig, and a localconfig, in one home.
struct Home {
  test::TempDir dir;
  std::unique_ptr<provisioning::FileStore> store;
  std::unique_ptr<provisioning::Provisioning> prov;
  localconfig::LocalConfig lc;

  Home() : lc(*localconfig::LocalConfig::load(dir.path() / "localconfig.toml", dir.path())) {
    auto opened = provisioning::FileStore::open(dir.path() / "prov.ldif");
    REQUIRE(opened);
    store = std::move(*opened);
    prov = std::make_unique<provisioning::Provisioning>(*store, std::vector<std::string>{});
    require_ok(prov->ensure_base());
  }

  confgen::Variables variables() {
    auto c = confgen::collect_variables(*prov, lc, "proxy.example.com");
    require_ok(c);
    return c->vars;
  }

  // The shipped template rendered with `vars`.
  static std::string render(const confgen::Variables& vars) {
    const auto file = shipped_template();
    REQUIRE_FALSE(file.empty());
    auto text = core::read_file(file);
    REQUIRE(text);
    auto rendered = confgen::render(*text, vars, "zmproxy.conf.template");
    require_ok(rendered);
    return *rendered;
  }

  auto parse(const std::string& text) const {
    return config::parse_config(text, "zmproxy.conf", dir.path());
  }
};

}  // namespace

TEST_CASE("template: GSSAPI off by default, [kerberos] rendered and valid without a keytab",
          "[confgen][kerberos]") {
  Home h;
  const confgen::Variables vars = h.variables();
  // An unset string attribute with no default renders as an empty TOML string.
  CHECK(vars.at("zimbraReverseProxyDefaultRealm").text == "\"\"");
  const std::string text = Home::render(vars);
  CHECK_THAT(text, Catch::Contains("\n[kerberos]\n") &&
                       Catch::Contains("\ndefault_realm = \"\"\n") &&
                       Catch::Contains("\nsasl_gssapi = false\n"));
  auto cfg = h.parse(text);
  INFO((cfg ? std::string() : cfg.error().message));
  REQUIRE(cfg);
  const config::ProxyConfig& c = **cfg;
  CHECK_FALSE(c.imap.sasl_gssapi);
  CHECK_FALSE(c.pop3.sasl_gssapi);
  // localconfig's defaults: the keytab in the home (not there: GSSAPI is off).
  CHECK(c.kerberos.keytab == (h.dir.path() / "conf" / "krb5.keytab").string());
  CHECK_FALSE(std::filesystem::exists(c.kerberos.keytab));
  CHECK_FALSE(c.kerberos.principal_from_interface_address);
  CHECK(c.kerberos.default_realm.empty());
  CHECK(c.kerberos.admin_user == "zmnginx");
  CHECK(c.kerberos.admin_password == "zmnginx");
  CHECK(c.kerberos.upstream_login == "zimbra");
  CHECK(c.kerberos.master_user.empty());
  CHECK(c.kerberos.master_password.empty());
}

TEST_CASE("template: GSSAPI on, the attributes and localconfig keys in [kerberos]",
          "[confgen][kerberos]") {
  Home h;
  require_ok(h.prov->modify(schema::Kind::global, "",
                            {set("zimbraReverseProxyImapSaslGssapiEnabled", "TRUE"),
                             set("zimbraReverseProxyPop3SaslGssapiEnabled", "TRUE"),
                             set("zimbraReverseProxyDefaultRealm", "ZMPROXY.TEST")},
                            false));
  // Passwords with what TOML must escape.
  const std::string admin_password = "adm\"in\\pw";
  const std::string master_password = "ma\"ster\\pw";
  require_ok(h.lc.set("krb5_service_principal_from_interface_address", "true"));
  require_ok(h.lc.set("zm_lookup_master_auth_username", "zmnginx@example.com"));
  require_ok(h.lc.set("ldap_nginx_password", admin_password));
  require_ok(h.lc.set("zmproxy_gssapi_upstream_login", "dovecot-master"));
  require_ok(h.lc.set("zmproxy_gssapi_master_user", "master"));
  require_ok(h.lc.set("zmproxy_gssapi_master_password", master_password));
  const confgen::Variables vars = h.variables();
  const std::string text = Home::render(vars);

  // No keytab yet: refused, naming krb5_keytab.
  auto cfg = h.parse(text);
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message,
             Catch::Contains("kerberos.keytab " + (h.dir.path() / "conf/krb5.keytab").string() +
                             " cannot be read: No such file or directory") &&
                 Catch::Contains("krb5_keytab"));

  std::filesystem::create_directories(h.dir.path() / "conf");
  std::ofstream(h.dir.path() / "conf" / "krb5.keytab") << "\x05\x02";
  cfg = h.parse(text);
  INFO((cfg ? std::string() : cfg.error().message));
  REQUIRE(cfg);
  const config::ProxyConfig& c = **cfg;
  CHECK(c.imap.sasl_gssapi);
  CHECK(c.pop3.sasl_gssapi);
  CHECK(c.kerberos.keytab == (h.dir.path() / "conf" / "krb5.keytab").string());
  CHECK(c.kerberos.principal_from_interface_address);
  CHECK(c.kerberos.default_realm == "ZMPROXY.TEST");
  CHECK(c.kerberos.admin_user == "zmnginx@example.com");
  CHECK(c.kerberos.admin_password == admin_password);
  CHECK(c.kerberos.upstream_login == "dovecot-master");
  CHECK(c.kerberos.master_user == "master");
  CHECK(c.kerberos.master_password == master_password);

  // What tools print (genconf --dry-run) masks both passwords.
  const std::string masked = Home::render(confgen::masked_variables(vars));
  CHECK_THAT(masked, Catch::Contains("admin_password = \"********\"") &&
                         Catch::Contains("master_password = \"********\""));
  CHECK(masked.find("adm\\\"in") == std::string::npos);
  CHECK(masked.find("ma\\\"ster") == std::string::npos);

  // A bad upstream form from localconfig is refused naming its key.
  require_ok(h.lc.set("zmproxy_gssapi_upstream_login", "dovecot"));
  cfg = h.parse(Home::render(h.variables()));
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("zmproxy_gssapi_upstream_login"));
}

// [kerberos] and imap/pop3.sasl_gssapi (issue 16): the keys read into
// KerberosSection, and each check of lib/config/kerberos_check.cpp refuses
// with one line naming the key and what to set; with GSSAPI off nothing is
// checked.

#include <unistd.h>

#include "lib/config/proxy_config.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace zmproxy;
using namespace zmproxy::config;

namespace {

// A home with conf/krb5.keytab (its bytes do not matter to the checks).
struct KeytabHome {
  test::TempDir dir;
  std::filesystem::path keytab = dir.path() / "conf" / "krb5.keytab";

  KeytabHome() {
    std::filesystem::create_directories(keytab.parent_path());
    std::ofstream(keytab) << "\x05\x02";
  }

  auto parse(const std::string& text) const {
    return parse_config(text, "zmproxy.conf", dir.path());
  }

  // GSSAPI on for IMAP, with `kerberos_lines` as the [kerberos] section.
  std::string on(const std::string& kerberos_lines) const {
    return "[imap]\nsasl_gssapi = true\n[kerberos]\n" + kerberos_lines;
  }
};

std::string message(const Result<std::shared_ptr<const ProxyConfig>>& r) {
  return r ? std::string() : r.error().message;
}

}  // namespace

TEST_CASE("kerberos: defaults, GSSAPI off", "[config][kerberos]") {
  auto cfg = parse_config("", "zmproxy.conf", "/opt/zmproxy");
  REQUIRE(cfg);
  const ProxyConfig& c = **cfg;
  CHECK_FALSE(c.imap.sasl_gssapi);
  CHECK_FALSE(c.pop3.sasl_gssapi);
  CHECK(c.kerberos.keytab.empty());
  CHECK_FALSE(c.kerberos.principal_from_interface_address);
  CHECK(c.kerberos.default_realm.empty());
  CHECK(c.kerberos.admin_user == "zmnginx");
  CHECK(c.kerberos.admin_password.empty());
  CHECK(c.kerberos.upstream_login == "zimbra");
  CHECK(c.kerberos.master_user.empty());
  CHECK(c.kerberos.master_password.empty());
}

TEST_CASE("kerberos: every key is read into its place", "[config][kerberos]") {
  KeytabHome h;
  auto cfg = h.parse(
      "[imap]\nsasl_gssapi = true\n[pop3]\nsasl_gssapi = true\n"
      "[kerberos]\nkeytab = \"conf/krb5.keytab\"\nprincipal_from_interface_address = true\n"
      "default_realm = \"ZMPROXY.TEST\"\nadmin_user = \"zmnginx@example.com\"\n"
      "admin_password = \"a\\\"b\"\nupstream_login = \"dovecot-master\"\n"
      "master_user = \"master\"\nmaster_password = \"m-secret\"\n");
  INFO(message(cfg));
  REQUIRE(cfg);
  const ProxyConfig& c = **cfg;
  CHECK(c.imap.sasl_gssapi);
  CHECK(c.pop3.sasl_gssapi);
  CHECK(c.kerberos.keytab == "conf/krb5.keytab");
  CHECK(c.path(c.kerberos.keytab) == h.keytab);
  CHECK(c.kerberos.principal_from_interface_address);
  CHECK(c.kerberos.default_realm == "ZMPROXY.TEST");
  CHECK(c.kerberos.admin_user == "zmnginx@example.com");
  CHECK(c.kerberos.admin_password == "a\"b");
  CHECK(c.kerberos.upstream_login == "dovecot-master");
  CHECK(c.kerberos.master_user == "master");
  CHECK(c.kerberos.master_password == "m-secret");
}

TEST_CASE("kerberos: a bad type or an unknown key is refused with its line", "[config][kerberos]") {
  KeytabHome h;
  auto cfg = h.parse("[kerberos]\nkeytabb = \"x\"\n");
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().message ==
        "zmproxy.conf:2: kerberos.keytabb: unknown key; see zmproxy.conf(5) for the keys of "
        "[kerberos]");
  cfg = h.parse("[pop3]\nsasl_gssapi = \"yes\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::StartsWith("zmproxy.conf:2: pop3.sasl_gssapi: expected"));
}

TEST_CASE("kerberos: with GSSAPI off nothing is checked", "[config][kerberos]") {
  const std::string bad =
      "[kerberos]\nkeytab = \"/nonexistent/krb5.keytab\"\ndefault_realm = \"NOT A REALM\"\n"
      "admin_user = \"\"\nadmin_password = \"\"\nupstream_login = \"dovecot\"\n";
  CHECK(parse_config(bad, "zmproxy.conf", "/opt/zmproxy"));
  CHECK(parse_config("[imap]\nsasl_gssapi = false\n" + bad, "zmproxy.conf", "/opt/zmproxy"));
  // The mail listeners off: GSSAPI cannot be offered, so not checked either.
  CHECK(parse_config("[mail]\nenabled = false\n[imap]\nsasl_gssapi = true\n" + bad, "zmproxy.conf",
                     "/opt/zmproxy"));
}

TEST_CASE("kerberos: a valid section with GSSAPI on", "[config][kerberos]") {
  KeytabHome h;
  const std::string keytab = "keytab = \"" + h.keytab.string() + "\"\n";
  auto cfg = h.parse(h.on(keytab + "admin_password = \"zmnginx\"\n"));
  INFO(message(cfg));
  CHECK(cfg);
  // A realm of 255 bytes is the longest; lower case is allowed.
  cfg = h.parse(h.on(keytab + "admin_password = \"p\"\ndefault_realm = \"" + std::string(253, 'A') +
                     ".x\"\n"));
  INFO(message(cfg));
  CHECK(cfg);
  // POP3 alone turns the checks on too (here they pass).
  cfg = h.parse("[pop3]\nsasl_gssapi = true\n[kerberos]\n" + keytab + "admin_password = \"p\"\n");
  CHECK(cfg);
}

TEST_CASE("kerberos: the keytab must be set and readable", "[config][kerberos]") {
  KeytabHome h;
  auto cfg = h.parse(h.on("admin_password = \"p\"\n"));
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().message ==
        "zmproxy.conf: kerberos.keytab must be set when imap.sasl_gssapi "
        "(zimbraReverseProxyImapSaslGssapiEnabled) is on; set krb5_keytab (zmlocalconfig -e "
        "krb5_keytab=<keytab>) or turn GSSAPI off");
  cfg = h.parse("[pop3]\nsasl_gssapi = true\n[kerberos]\nadmin_password = \"p\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("pop3.sasl_gssapi"));

  // Missing: the path resolved against the home, the system's reason, the fix.
  cfg = h.parse(h.on("keytab = \"conf/none.keytab\"\nadmin_password = \"p\"\n"));
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().message == "zmproxy.conf: kerberos.keytab " +
                                   (h.dir.path() / "conf/none.keytab").string() +
                                   " cannot be read: No such file or directory; create it with "
                                   "kadmin ktadd (readable by the proxy's user) or set krb5_keytab "
                                   "(zmlocalconfig -e krb5_keytab=<keytab>)");
  // A directory.
  cfg = h.parse(h.on("keytab = \"conf\"\nadmin_password = \"p\"\n"));
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message,
             Catch::Contains("kerberos.keytab " + (h.dir.path() / "conf").string() +
                             " cannot be read: not a regular file") &&
                 Catch::Contains("krb5_keytab"));
  // A FIFO is refused without waiting for a writer.
  const auto fifo = h.dir.path() / "conf" / "fifo.keytab";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  cfg = h.parse(h.on("keytab = \"conf/fifo.keytab\"\nadmin_password = \"p\"\n"));
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("not a regular file"));
  // Unreadable by the user who checks: mode 0 (root reads anything, so as
  // root the check runs in a child that became nobody).
  std::filesystem::permissions(h.keytab, std::filesystem::perms::none);
  const auto unreadable = [&h] {
    auto r = h.parse(h.on("keytab = \"conf/krb5.keytab\"\nadmin_password = \"p\"\n"));
    return !r && r.error().message.find("cannot be read: Permission denied") != std::string::npos &&
           r.error().message.find("krb5_keytab") != std::string::npos;
  };
  if (::geteuid() != 0) {
    CHECK(unreadable());
  } else {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      const bool dropped = ::setgid(65534) == 0 && ::setuid(65534) == 0;
      ::_exit(dropped && unreadable() ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
}

TEST_CASE("kerberos: the upstream login and its master user", "[config][kerberos]") {
  KeytabHome h;
  const std::string ok = "keytab = \"conf/krb5.keytab\"\nadmin_password = \"p\"\n";
  for (const char* bad : {"dovecot", "Zimbra", "", "x-zimbra"}) {
    INFO(bad);
    auto cfg = h.parse(h.on(ok + "upstream_login = \"" + bad + "\"\n"));
    REQUIRE_FALSE(cfg);
    CHECK(cfg.error().message ==
          "zmproxy.conf: kerberos.upstream_login must be \"zimbra\" or \"dovecot-master\" "
          "(zmlocalconfig -e zmproxy_gssapi_upstream_login=zimbra)");
  }
  auto cfg = h.parse(h.on(ok + "upstream_login = \"dovecot-master\"\nmaster_password = \"m\"\n"));
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().message ==
        "zmproxy.conf: kerberos.master_user must be set when kerberos.upstream_login is "
        "\"dovecot-master\" (zmlocalconfig -e zmproxy_gssapi_master_user=<master user>)");
  cfg = h.parse(h.on(ok + "upstream_login = \"dovecot-master\"\nmaster_user = \"master\"\n"));
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message,
             Catch::StartsWith("zmproxy.conf: kerberos.master_password must be set") &&
                 Catch::Contains("zmproxy_gssapi_master_password"));
  cfg = h.parse(h.on(ok + "upstream_login = \"dovecot-master\"\nmaster_user = \"master\"\n"
                          "master_password = \"m\"\n"));
  INFO(message(cfg));
  CHECK(cfg);
  // The master user is not needed for the zimbra form.
  CHECK(h.parse(h.on(ok + "upstream_login = \"zimbra\"\n")));
}

TEST_CASE("kerberos: the lookup's admin account must be set", "[config][kerberos]") {
  KeytabHome h;
  const std::string keytab = "keytab = \"conf/krb5.keytab\"\n";
  auto cfg = h.parse(h.on(keytab + "admin_user = \"\"\nadmin_password = \"p\"\n"));
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().message ==
        "zmproxy.conf: kerberos.admin_user must be set when imap.sasl_gssapi "
        "(zimbraReverseProxyImapSaslGssapiEnabled) is on: gssapi lookups name it (zmlocalconfig "
        "-e zm_lookup_master_auth_username=zmnginx)");
  cfg = h.parse(h.on(keytab));  // admin_password's default is empty
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message,
             Catch::StartsWith("zmproxy.conf: kerberos.admin_password must be set") &&
                 Catch::Contains("ldap_nginx_password"));
}

TEST_CASE("kerberos: the default realm is 1..255 of letters, digits, '.' and '-'",
          "[config][kerberos]") {
  KeytabHome h;
  const std::string ok = "keytab = \"conf/krb5.keytab\"\nadmin_password = \"p\"\n";
  for (const std::string& bad :
       {std::string("EXAMPLE COM"), std::string("EXAMPLE.COM\\t"), std::string("EX@MPLE"),
        std::string("EXAMPLE/COM"), std::string(256, 'A'), std::string("\\u00c9XAMPLE")}) {
    INFO(bad);
    auto cfg = h.parse(h.on(ok + "default_realm = \"" + bad + "\"\n"));
    REQUIRE_FALSE(cfg);
    CHECK(cfg.error().message ==
          "zmproxy.conf: kerberos.default_realm must be 1..255 letters, digits, '.' and '-', like "
          "EXAMPLE.COM (zmprov ms <server> zimbraReverseProxyDefaultRealm EXAMPLE.COM)");
  }
  CHECK(h.parse(h.on(ok + "default_realm = \"\"\n")));
  CHECK(h.parse(h.on(ok + "default_realm = \"SUB-1.EXAMPLE.COM\"\n")));
}

TEST_CASE("kerberos: what the lookup and the upstream login carry is bounded and has no control byte",
          "[config][kerberos]") {
  KeytabHome h;
  const std::string keytab = "keytab = \"conf/krb5.keytab\"\n";
  auto cfg = h.parse(h.on(keytab + "admin_password = \"" + std::string(1025, 'p') + "\"\n"));
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().message ==
        "zmproxy.conf: kerberos.admin_password must be at most 1024 bytes with no control character "
        "(zmlocalconfig -e ldap_nginx_password=...)");
  cfg = h.parse(h.on(keytab + "admin_password = \"p\"\nmaster_password = \"a\\u0001b\"\n"));
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("kerberos.master_password must be at most 1024 bytes"));
  cfg = h.parse(h.on(keytab + "admin_password = \"p\"\nadmin_user = \"zm\\tnginx\"\n"));
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("kerberos.admin_user must be at most 256 bytes"));
  CHECK(h.parse(h.on(keytab + "admin_password = \"" + std::string(1024, 'p') + "\"\n")));
}

#include "lib/config/kerberos_check.hpp"

#include "lib/core/strings.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <sys/stat.h>
#include <system_error>

namespace zmproxy::config {

namespace {

// "" when `file` opens for reading and is a regular file, else why not.
// O_NONBLOCK: a FIFO in its place must not hang the check.
std::string unreadable_reason(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    return std::error_code(errno, std::generic_category()).message();
  }
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  return regular ? std::string() : "not a regular file";
}

bool is_realm(const std::string& realm) {
  return !realm.empty() && realm.size() <= 255 &&
         std::all_of(realm.begin(), realm.end(), [](char ch) {
           return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
         });
}

}  // namespace

Result<void> check_kerberos(const ProxyConfig& c, const std::string& f) {
  if (!c.mail_enabled || !(c.imap.sasl_gssapi || c.pop3.sasl_gssapi)) {
    return {};
  }
  const std::string on = c.imap.sasl_gssapi
                             ? "imap.sasl_gssapi (zimbraReverseProxyImapSaslGssapiEnabled)"
                             : "pop3.sasl_gssapi (zimbraReverseProxyPop3SaslGssapiEnabled)";
  const KerberosSection& k = c.kerberos;
  if (k.keytab.empty()) {
    return fail(Errc::invalid_argument,
                f + "kerberos.keytab must be set when " + on +
                    " is on; set krb5_keytab (zmlocalconfig -e krb5_keytab=<keytab>) or turn "
                    "GSSAPI off");
  }
  const std::filesystem::path keytab = c.path(k.keytab);
  if (const std::string why = unreadable_reason(keytab); !why.empty()) {
    return fail(Errc::invalid_argument,
                f + "kerberos.keytab " + keytab.string() + " cannot be read: " + why +
                    "; create it with kadmin ktadd (readable by the proxy's user) or set "
                    "krb5_keytab (zmlocalconfig -e krb5_keytab=<keytab>)");
  }
  if (k.upstream_login != "zimbra" && k.upstream_login != "dovecot-master") {
    return fail(Errc::invalid_argument,
                f + "kerberos.upstream_login must be \"zimbra\" or \"dovecot-master\" "
                    "(zmlocalconfig -e zmproxy_gssapi_upstream_login=zimbra)");
  }
  if (k.upstream_login == "dovecot-master" && k.master_user.empty()) {
    return fail(
        Errc::invalid_argument,
        f + "kerberos.master_user must be set when kerberos.upstream_login is "
            "\"dovecot-master\" (zmlocalconfig -e zmproxy_gssapi_master_user=<master user>)");
  }
  if (k.upstream_login == "dovecot-master" && k.master_password.empty()) {
    return fail(Errc::invalid_argument,
                f + "kerberos.master_password must be set when kerberos.upstream_login is "
                    "\"dovecot-master\" (zmlocalconfig -e zmproxy_gssapi_master_password=<its "
                    "password>)");
  }
  if (k.admin_user.empty()) {
    return fail(Errc::invalid_argument, f + "kerberos.admin_user must be set when " + on +
                                            " is on: gssapi lookups name it (zmlocalconfig -e "
                                            "zm_lookup_master_auth_username=zmnginx)");
  }
  if (k.admin_password.empty()) {
    return fail(Errc::invalid_argument, f + "kerberos.admin_password must be set when " + on +
                                            " is on: gssapi lookups send it (zmlocalconfig -e "
                                            "ldap_nginx_password=<the admin account's password>)");
  }
  // What the lookup's headers and the upstream login will carry: refused
  // here, not at every login.
  struct Bounded {
    const char* key;
    const std::string& value;
    std::size_t limit;
    const char* localconfig;
  };
  for (const Bounded& b : {Bounded{"kerberos.admin_user", k.admin_user, 256, "zm_lookup_master_auth_username"},
                           Bounded{"kerberos.admin_password", k.admin_password, 1024, "ldap_nginx_password"},
                           Bounded{"kerberos.master_user", k.master_user, 256, "zmproxy_gssapi_master_user"},
                           Bounded{"kerberos.master_password", k.master_password, 1024,
                                   "zmproxy_gssapi_master_password"}}) {
    if (b.value.size() > b.limit || core::has_control_byte(b.value)) {
      return fail(Errc::invalid_argument, f + b.key + " must be at most " + std::to_string(b.limit) +
                                              " bytes with no control character (zmlocalconfig -e " +
                                              b.localconfig + "=...)");
    }
  }
  if (!k.default_realm.empty() && !is_realm(k.default_realm)) {
    return fail(Errc::invalid_argument,
                f + "kerberos.default_realm must be 1..255 letters, digits, '.' and '-', like "
                    "EXAMPLE.COM (zmprov ms <server> zimbraReverseProxyDefaultRealm EXAMPLE.COM)");
  }
  return {};
}

}  // namespace zmproxy::config

#include "lib/proxy/mail/kerberos_login.hpp"

#include "lib/core/strings.hpp"
#include "lib/proxy/mail/sasl.hpp"

#include <utility>

namespace zmproxy::proxy::mail {

namespace {

// Empty, too long or with a control byte: an error naming `what`.
Result<void> check_value(std::string_view what, std::string_view value, std::size_t limit) {
  if (value.empty()) {
    return fail(Errc::invalid_argument,
                "kerberos upstream login: " + std::string(what) + " is empty");
  }
  if (value.size() > limit || core::has_control_byte(value)) {
    return fail(Errc::invalid_argument, "kerberos upstream login: " + std::string(what) +
                                            " is over " + std::to_string(limit) +
                                            " bytes or has a control byte");
  }
  return {};
}

}  // namespace

Result<KerberosUpstreamForm> parse_kerberos_upstream_form(std::string_view text) {
  if (text == "dovecot-master") {
    return KerberosUpstreamForm::dovecot_master;
  }
  if (text == "zimbra") {
    return KerberosUpstreamForm::zimbra;
  }
  return fail(Errc::invalid_argument, "kerberos upstream login form '" + std::string(text) +
                                          "' is unknown: use dovecot-master or zimbra");
}

Result<KerberosUpstreamLogin> kerberos_upstream_login(std::string_view account,
                                                      std::string_view token,
                                                      const KerberosUpstreamSettings& settings,
                                                      std::string tag) {
  if (auto ok = check_value("the account", account, k_max_sasl_login); !ok) {
    return tl::unexpected(ok.error());
  }
  KerberosUpstreamLogin out;
  out.login.tag = std::move(tag);
  out.login.sasl = true;
  out.login.user = std::string(account);
  if (settings.form == KerberosUpstreamForm::dovecot_master) {
    if (auto ok = check_value("the master user", settings.master_user, k_max_sasl_login); !ok) {
      return tl::unexpected(ok.error());
    }
    if (auto ok = check_value("the master password", settings.master_password, k_max_sasl_password);
        !ok) {
      return tl::unexpected(ok.error());
    }
    out.login.mechanism = SaslMechanism::plain;
    out.login.authzid = std::string(account);
    out.login.password = settings.master_password;
    out.authcid = settings.master_user;
    return out;
  }
  if (auto ok = check_value("the token", token, k_max_sasl_password); !ok) {
    return tl::unexpected(ok.error());
  }
  // The upstream logins send a mechanism other than PLAIN/LOGIN as
  // "AUTHENTICATE X-ZIMBRA <base64 of password>" (IMAP; after "+" without
  // SASL-IR) and "AUTH X-ZIMBRA <base64>" (POP3).
  out.login.mechanism = SaslMechanism::x_zimbra;
  out.login.authzid = std::string(account);
  out.login.password =
      std::string(account) + '\0' + std::string(account) + '\0' + std::string(token);
  out.authcid = std::string(account);
  return out;
}

}  // namespace zmproxy::proxy::mail

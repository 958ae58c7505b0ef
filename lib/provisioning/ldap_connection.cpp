#include "lib/provisioning/ldap_connection.hpp"

#include <utility>

namespace zmproxy::provisioning {

namespace {

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

// The password rule and the TLS options, on a handle that has sent nothing.
Result<LdapTlsPolicy> prepare_ldap_security(LDAP* ld, const LdapSettings& s) {
  const LdapTlsPolicy policy = ldap_tls_policy(s);
  if (auto refusal = shipped_password_refusal("zimbra_ldap_password", s.password,
                                              "the LDAP server at " + s.url, policy.remote)) {
    return fail(Errc::permission_denied, *refusal);
  }
  const int require = policy.verify ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER;
  if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require) != LDAP_OPT_SUCCESS) {
    return fail(Errc::invalid_argument, "libldap refused the TLS certificate check setting");
  }
  if (!s.ca_file.empty() &&
      ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, s.ca_file.c_str()) != LDAP_OPT_SUCCESS) {
    return fail(Errc::invalid_argument, "ldap_ca_file: libldap refused " + s.ca_file);
  }
  const int server = 0;  // a client context with the options above
  if (const int rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &server); rc != LDAP_OPT_SUCCESS) {
    return fail(Errc::invalid_argument,
                "ldap_ca_file: cannot use " +
                    (s.ca_file.empty() ? "the system CA store" : s.ca_file) + " for LDAP TLS: " +
                    ldap_reason(ld, rc) + "; set ldap_ca_file to a PEM file of CA certificates");
  }
  return policy;
}

}  // namespace

std::string ldap_reason(LDAP* ld, int rc) {
  std::string out = ldap_err2string(rc);
  char* raw = nullptr;
  if (ld == nullptr || ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &raw) != LDAP_OPT_SUCCESS) {
    return out;
  }
  const LdapMemPtr diag(raw);
  if (diag != nullptr && *diag != '\0' && out != diag.get()) {
    out += " (" + std::string(diag.get()) + ")";
  }
  return out;
}

bool is_ldap_connection_error(int rc) noexcept {
  return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT;
}

timeval ldap_timeval(int seconds) noexcept {
  timeval tv{};
  tv.tv_sec = seconds;
  return tv;
}

Result<LdapHandle> open_ldap_handle(const LdapSettings& settings, LdapTimeouts timeouts) {
  LDAP* raw = nullptr;
  const int rc = ldap_initialize(&raw, settings.url.c_str());
  LdapPtr ld(raw);
  if (rc != LDAP_SUCCESS || ld == nullptr) {
    return fail(Errc::invalid_argument, "ldap_url " + quoted(settings.url) +
                                            " is not a valid LDAP URL: " + ldap_err2string(rc) +
                                            "; set it like ldap://host:389 in localconfig");
  }
  const int version = LDAP_VERSION3;
  ldap_set_option(ld.get(), LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld.get(), LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  ldap_set_option(ld.get(), LDAP_OPT_RESTART, LDAP_OPT_ON);
  if (settings.timeout_seconds > 0) {
    const timeval tv = ldap_timeval(settings.timeout_seconds);
    ldap_set_option(ld.get(), LDAP_OPT_NETWORK_TIMEOUT, &tv);
    if (timeouts == LdapTimeouts::operations) {
      ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &tv);
    }
  }
  // Nothing, the password least, goes out before these checks and StartTLS.
  auto policy = prepare_ldap_security(ld.get(), settings);
  if (!policy) {
    return tl::unexpected(policy.error());
  }
  return LdapHandle{std::move(ld), *policy};
}

Result<void> start_ldap_tls(LDAP* ld, const LdapSettings& s) {
  const int rc = ldap_start_tls_s(ld, nullptr, nullptr);
  if (rc == LDAP_SUCCESS) {
    return {};
  }
  if (rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT) {
    return tl::unexpected(ldap_unreachable(s, ld, rc));
  }
  const std::string fix =
      s.ca_file.empty()
          ? "set ldap_ca_file to the CA that issued its certificate (zmlocalconfig -e "
            "ldap_ca_file=<pem file>)"
          : "check that " + s.ca_file + " (ldap_ca_file) holds the CA that issued its certificate";
  return fail(Errc::unavailable,
              "StartTLS with the LDAP server at " + s.url + " failed: " + ldap_reason(ld, rc) +
                  "; " + fix +
                  " and that slapd has TLS on (olcTLSCertificateFile); for a lab only, "
                  "ssl_allow_untrusted_certs=true or ldap_starttls_required=false");
}

const char* ldap_bind_dn(const LdapSettings& settings) noexcept {
  return settings.bind_dn.empty() ? nullptr : settings.bind_dn.c_str();
}

berval ldap_bind_password(const LdapSettings& settings) noexcept {
  return berval{static_cast<ber_len_t>(settings.password.size()),
                const_cast<char*>(settings.password.data())};
}

Error ldap_unreachable(const LdapSettings& settings, LDAP* ld, int rc) {
  const std::string what = rc == LDAP_TIMEOUT
                               ? "the LDAP server at " + settings.url + " did not answer within " +
                                     std::to_string(settings.timeout_seconds) + " s"
                               : "cannot reach the LDAP server at " + settings.url;
  return {Errc::unavailable, what + ": " + ldap_reason(ld, rc) +
                                 "; check ldap_url in localconfig and that slapd is running"};
}

Error ldap_bind_refused(const LdapSettings& settings, int rc, const std::string& why) {
  const Errc code = rc == LDAP_INVALID_DN_SYNTAX ? Errc::invalid_argument
                    : rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INSUFFICIENT_ACCESS ||
                            rc == LDAP_INAPPROPRIATE_AUTH || rc == LDAP_UNWILLING_TO_PERFORM ||
                            rc == LDAP_CONFIDENTIALITY_REQUIRED || rc == LDAP_STRONG_AUTH_REQUIRED
                        ? Errc::permission_denied
                        : Errc::io_error;
  return {code, "the LDAP server at " + settings.url + " refused the bind as " +
                    quoted(settings.bind_dn) + ": " + why +
                    "; check zimbra_ldap_userdn and zimbra_ldap_password in localconfig"};
}

}  // namespace zmproxy::provisioning

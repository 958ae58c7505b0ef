#include "lib/provisioning/ldap_tls.hpp"

#include <string>

namespace zmproxy::provisioning {

namespace {

// libldap's text for rc plus its diagnostic (the TLS error) when it adds something.
std::string why(LDAP* ld, int rc) {
  std::string out = ldap_err2string(rc);
  char* raw = nullptr;
  if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &raw) == LDAP_OPT_SUCCESS &&
      raw != nullptr) {
    const std::string diag(raw);
    ldap_memfree(raw);
    if (!diag.empty() && diag != out) {
      out += " (" + diag + ")";
    }
  }
  return out;
}

}  // namespace

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
                    why(ld, rc) + "; set ldap_ca_file to a PEM file of CA certificates");
  }
  return policy;
}

Result<void> start_ldap_tls(LDAP* ld, const LdapSettings& s, int& connection_rc) {
  connection_rc = LDAP_SUCCESS;
  const int rc = ldap_start_tls_s(ld, nullptr, nullptr);
  if (rc == LDAP_SUCCESS) {
    return {};
  }
  if (rc == LDAP_SERVER_DOWN || rc == LDAP_TIMEOUT) {
    connection_rc = rc;
    return fail(Errc::unavailable, "cannot reach the LDAP server at " + s.url + ": " + why(ld, rc) +
                                       "; check ldap_url in localconfig and that slapd is running");
  }
  const std::string fix =
      s.ca_file.empty()
          ? "set ldap_ca_file to the CA that issued its certificate (zmlocalconfig -e "
            "ldap_ca_file=<pem file>)"
          : "check that " + s.ca_file + " (ldap_ca_file) holds the CA that issued its certificate";
  return fail(Errc::unavailable,
              "StartTLS with the LDAP server at " + s.url + " failed: " + why(ld, rc) + "; " + fix +
                  " and that slapd has TLS on (olcTLSCertificateFile); for a lab only, "
                  "ssl_allow_untrusted_certs=true or ldap_starttls_required=false");
}

}  // namespace zmproxy::provisioning

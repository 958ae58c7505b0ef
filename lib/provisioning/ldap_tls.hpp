#pragma once
// The libldap side of ldap_security.hpp, shared by LdapStore and
// LdapChangeFeed: on a fresh handle, before the bind, refuse a shipped
// default password sent beyond loopback, set the certificate checks and
// run StartTLS when the policy asks for it. Includes <ldap.h>.

#include "lib/core/result.hpp"
#include "lib/provisioning/ldap_security.hpp"
#include "lib/provisioning/ldap_store.hpp"

#include <ldap.h>

namespace zmproxy::provisioning {

// Before anything is sent: the password rule, then the TLS options
// (LDAP_OPT_X_TLS_REQUIRE_CERT, LDAP_OPT_X_TLS_CACERTFILE, a new TLS
// context). Errc::permission_denied for a shipped password,
// Errc::invalid_argument for options libldap refuses.
Result<LdapTlsPolicy> prepare_ldap_security(LDAP* ld, const LdapSettings& settings);

// StartTLS on the open or about to open connection, bounded by the handle's
// timeouts. Errc::unavailable when the server cannot be reached at all (rc
// in `connection_rc`), else one line naming the URL and the fix.
Result<void> start_ldap_tls(LDAP* ld, const LdapSettings& settings, int& connection_rc);

}  // namespace zmproxy::provisioning

#pragma once
// The libldap side of one connection to the directory, shared by LdapStore
// and LdapChangeFeed: the handle and its options, the security steps
// (ldap_security.hpp decides; here they are done on the handle: no shipped
// default password beyond loopback, the certificate checks, StartTLS), the
// simple bind's credentials, and the one-line errors of each step. Includes
// <ldap.h>.

#include "lib/core/result.hpp"
#include "lib/provisioning/ldap_security.hpp"
#include "lib/provisioning/ldap_store.hpp"

#include <ldap.h>

#include <memory>
#include <string>
#include <sys/time.h>

namespace zmproxy::provisioning {

struct LdapUnbind {
  void operator()(LDAP* ld) const noexcept { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
struct LdapMessageFree {
  void operator()(LDAPMessage* msg) const noexcept { ldap_msgfree(msg); }
};
struct LdapMemFree {
  void operator()(char* p) const noexcept { ldap_memfree(p); }
};
using LdapPtr = std::unique_ptr<LDAP, LdapUnbind>;
using LdapMessagePtr = std::unique_ptr<LDAPMessage, LdapMessageFree>;
using LdapMemPtr = std::unique_ptr<char, LdapMemFree>;

// "Reason (diagnostic)": ldap_err2string(rc) plus the diagnostic text libldap
// keeps on `ld` for the last operation (the server's, or the TLS error) when
// it adds something.
std::string ldap_reason(LDAP* ld, int rc);

// The server was not reached, or stopped answering.
bool is_ldap_connection_error(int rc) noexcept;

// `seconds` as a timeval.
timeval ldap_timeval(int seconds) noexcept;

// Which of libldap's timeouts settings.timeout_seconds sets (0: none).
enum class LdapTimeouts {
  connect,     // LDAP_OPT_NETWORK_TIMEOUT only (a feed's search is to block)
  operations,  // that and LDAP_OPT_TIMEOUT, every synchronous operation
};

struct LdapHandle {
  LdapPtr ld;
  LdapTlsPolicy policy;  // start_tls: run start_ldap_tls before the bind
};

// ldap_initialize on settings.url (a space separated list), LDAPv3, no
// referrals chased, restart on EINTR, `timeouts`; then, before anything is
// sent, the password rule and the TLS options (LDAP_OPT_X_TLS_REQUIRE_CERT,
// LDAP_OPT_X_TLS_CACERTFILE, a new TLS context). Errc::invalid_argument for
// a URL libldap cannot use or options it refuses, Errc::permission_denied
// for a shipped password sent beyond loopback.
Result<LdapHandle> open_ldap_handle(const LdapSettings& settings, LdapTimeouts timeouts);

// StartTLS on the open or about to open connection, bounded by the handle's
// timeouts. Errc::unavailable with ldap_unreachable's line when the server
// cannot be reached at all, else one line naming the URL and the fix.
Result<void> start_ldap_tls(LDAP* ld, const LdapSettings& settings);

// The simple bind's DN (nullptr: anonymous) and password; the berval borrows
// settings.password.
const char* ldap_bind_dn(const LdapSettings& settings) noexcept;
berval ldap_bind_password(const LdapSettings& settings) noexcept;

// Errc::unavailable: the server at settings.url could not be reached or did
// not answer in time (`rc`, with `ld`'s diagnostic), and what to check.
Error ldap_unreachable(const LdapSettings& settings, LDAP* ld, int rc);

// The server refused the bind with `rc` (`why`: its text): one line naming
// the URL, the bind DN and the localconfig keys to check; the password never.
// Errc::permission_denied for a refusal of the credentials,
// Errc::invalid_argument for a bind DN that does not parse, else io_error.
Error ldap_bind_refused(const LdapSettings& settings, int rc, const std::string& why);

}  // namespace zmproxy::provisioning

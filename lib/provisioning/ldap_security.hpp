#pragma once
// What a connection to the directory must do for the host it reaches, as
// pure decisions: StartTLS with certificate checks over ldap:// to another
// host (or on this one with ldap_starttls_supported = 1), and no shipped
// default password (zimbra, zmnginx) sent beyond loopback. The libldap side
// is lib/provisioning/ldap_connection.hpp.

#include "lib/provisioning/ldap_store.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::provisioning {

// True when `host`, as written in an LDAP URL (a name, an address, or
// "[v6]"), is this machine: empty (libldap's default, localhost),
// "localhost", 127.0.0.0/8 or ::1. No name is resolved.
bool is_loopback_host(std::string_view host) noexcept;

struct LdapUrlTarget {
  std::string scheme;  // lower case: ldap, ldaps, ldapi
  std::string host;    // without brackets or port; "" for ldapi and ldap:///
  bool local = false;  // ldapi://, or a loopback host
};

// The scheme and host of each URL of a space separated ldap_url list.
std::vector<LdapUrlTarget> ldap_url_targets(std::string_view urls);

struct LdapTlsPolicy {
  bool start_tls = false;  // StartTLS over ldap:// before the bind
  bool verify = true;      // LDAP_OPT_X_TLS_REQUIRE_CERT demand (StartTLS and ldaps://)
  bool remote = false;     // some URL names another host
};

// StartTLS when some ldap:// URL names another host (unless
// starttls_required is false) or when starttls_supported asks for it on
// loopback as well; verify unless allow_untrusted_certs.
LdapTlsPolicy ldap_tls_policy(const LdapSettings& settings);

// The one-line refusal when `value` of localconfig `key` is still the
// password Zimbra ships (zimbra for ldap_root_password and
// zimbra_ldap_password, zmnginx for ldap_nginx_password) and `remote`; the
// line names `where` and how to set the key. nullopt: allowed.
std::optional<std::string> shipped_password_refusal(std::string_view key,
                                                    std::string_view value,
                                                    std::string_view where,
                                                    bool remote);

}  // namespace zmproxy::provisioning

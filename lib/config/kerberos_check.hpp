#pragma once
// The checks of [kerberos] that GSSAPI logins need (issue 16): run by
// parse_config, and only when mail is on and imap.sasl_gssapi or
// pop3.sasl_gssapi is on (a default install has no keytab). Each failure is
// one line naming the key and the localconfig key or attribute to set:
//
//  - kerberos.keytab is set and names a readable regular file (relative:
//    to the home), opened once here without blocking on a FIFO;
//  - kerberos.upstream_login is "zimbra" or "dovecot-master" (the spellings
//    of lib/proxy/mail/kerberos_login.hpp, which this layer may not include);
//    "dovecot-master" needs master_user and master_password;
//  - kerberos.admin_user and admin_password are set (the gssapi lookup's
//    Auth-Admin-User/-Pass);
//  - kerberos.default_realm, when set, is 1..255 of [A-Za-z0-9.-].
//
// Thread affinity: none (reads the keytab's metadata, never its keys).

#include "lib/config/proxy_config.hpp"
#include "lib/core/result.hpp"

#include <string>

namespace zmproxy::config {

// `f` is "<file>: ", the prefix of every message. Errc::invalid_argument.
Result<void> check_kerberos(const ProxyConfig& c, const std::string& f);

}  // namespace zmproxy::config

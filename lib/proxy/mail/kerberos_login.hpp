#pragma once
// The upstream login of a user who logged in to the proxy with GSSAPI: the
// proxy has no password of theirs, so it logs in at the mailbox with what the
// gssapi lookup gave (the account name, a token) and the configured form.
// Pure: builds the Login that imap/ and pop3/upstream_login.cpp replay.
//
//  - dovecot_master: SASL PLAIN as a Dovecot master user acting for the
//    account: authzid = account, authcid = master user, password = master
//    password (Dovecot's `master = yes` passdb).
//  - zimbra: AUTHENTICATE X-ZIMBRA with "account NUL account NUL token", as
//    nginx does for Zimbra's mailbox.
//
// The result is a credential: never logged.

#include "lib/core/result.hpp"
#include "lib/proxy/mail/mailbox_login.hpp"

#include <string>
#include <string_view>

namespace zmproxy::proxy::mail {

enum class KerberosUpstreamForm { dovecot_master, zimbra };

struct KerberosUpstreamSettings {
  KerberosUpstreamForm form = KerberosUpstreamForm::zimbra;
  std::string master_user;      // dovecot_master: the master user's name
  std::string master_password;  // dovecot_master: its password (a credential)
};

struct KerberosUpstreamLogin {
  Login login;
  // The name the upstream login authenticates as. The upstream logins send
  // route.user (+ suffix) as the SASL authcid: the caller puts this name in
  // MailboxLoginRequest::route.user (the master user for dovecot_master, the
  // account for zimbra) and logs login.authzid as the account.
  std::string authcid;
};

// "dovecot-master" or "zimbra" (the configured form's text).
Result<KerberosUpstreamForm> parse_kerberos_upstream_form(std::string_view text);

// The login at the mailbox for `account` (the lookup's Auth-User) holding
// `token` (the lookup's Auth-Pass). An empty account, an empty token for
// zimbra, an unset master user or password for dovecot_master, or a value
// with a control byte or over the SASL limits is an error naming it.
// `tag`: the IMAP tag to log in under (POP3: empty).
Result<KerberosUpstreamLogin> kerberos_upstream_login(std::string_view account,
                                                      std::string_view token,
                                                      const KerberosUpstreamSettings& settings,
                                                      std::string tag = {});

}  // namespace zmproxy::proxy::mail

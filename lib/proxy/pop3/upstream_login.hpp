#pragma once
// The POP3 login at the mailbox: the greeting, XOIP (or XCLIENT when the
// greeting offers it) with the client's address, then USER and PASS or AUTH,
// one command at a time. A reply followed by bytes the mailbox did not owe is
// a protocol error (unavailable), so no reply is taken for another's.

#include "lib/proxy/mail/mailbox_login.hpp"

namespace zmproxy::proxy::pop3 {

mail::awaitable<mail::MailboxVerdict> login_at_mailbox(net::tcp::socket& mailbox, const mail::MailboxLoginRequest& r);
mail::awaitable<mail::MailboxVerdict> login_at_mailbox(net::TlsStream& mailbox, const mail::MailboxLoginRequest& r);

}  // namespace zmproxy::proxy::pop3

#pragma once
// The IMAP login at the mailbox: the greeting, the proxy's ID with the
// client's address under a random tag of its own, then the client's LOGIN or
// AUTHENTICATE under the client's tag. The verdict is only the tagged reply
// to the client's tag after the ID's reply; anything else is unavailable.

#include "lib/proxy/mail/mailbox_login.hpp"

namespace zmproxy::proxy::imap {

mail::awaitable<mail::MailboxVerdict> login_at_mailbox(net::tcp::socket& mailbox, const mail::MailboxLoginRequest& r);
mail::awaitable<mail::MailboxVerdict> login_at_mailbox(net::TlsStream& mailbox, const mail::MailboxLoginRequest& r);

}  // namespace zmproxy::proxy::imap

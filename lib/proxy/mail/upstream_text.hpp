#pragma once
// What of a client's bytes may reach a mailbox server's command line, and how
// the proxy's own commands are told apart from the client's. Pure functions,
// shared by the IMAP and POP3 upstream logins.
//
// The mailbox server trusts the proxy's address (zimbraMailTrustedIP,
// Dovecot's login_trusted_networks): a client that could add a line to what
// the proxy sends it, or make the proxy mistake one answer for another, would
// speak to the mailbox as the proxy. So:
//   - a login name holds no control character, a password or token no CR, LF
//     or NUL (refused before anything is sent, not escaped);
//   - a value the client chose for IMAP ID keeps printable ASCII only;
//   - every block written upstream is checked last: no NUL, no CR that is not
//     followed by LF, no LF that does not follow a CR.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace zmproxy::proxy::mail {

// True when `v` may be a login name sent upstream: not empty and without
// any control character (0x00-0x1f, 0x7f).
bool safe_login_name(std::string_view v) noexcept;

// True when `v` may be a password or SASL token sent upstream: no CR, LF or
// NUL (IMAP literals could carry them, but no mailbox accepts them).
bool safe_secret(std::string_view v) noexcept;

// `v` reduced to printable ASCII (0x20-0x7e) and at most `max` bytes: what
// the proxy repeats of a client's IMAP ID "name" or "version".
std::string printable_ascii(std::string_view v, std::size_t max);

// True when `block` is whole CRLF-terminated lines with no NUL and no bare
// CR or LF: the last check before anything is written to a mailbox.
bool clean_command_block(std::string_view block) noexcept;

// The tag of the proxy's own IMAP commands in one session: "zp" and 16
// lower-case hex digits of `random` (fresh random bits per session), an
// IMAP tag a client cannot guess.
std::string proxy_tag(std::uint64_t random);

}  // namespace zmproxy::proxy::mail

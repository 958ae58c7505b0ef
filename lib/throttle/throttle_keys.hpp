#pragma once
// The memcached keys of login throttling (REFERENCE-zimbra §2.1, §2.5), built
// by pure functions. The three Zimbra keys are byte for byte what Zimbra's
// nginx (ngx_mail_throttle_module.c) writes, so the proxies of a mixed fleet
// count into the same counters. Our own counters live under "zmproxy:" and a
// Zimbra proxy never reads or writes them.
//
// Escaping: every key goes through route::safe_key. For the user key that is
// Zimbra's own escaping (ngx_escape_uri NGX_ESCAPE_MEMCACHED: bytes <= 0x20
// and '%' as uppercase %XX) with one difference: safe_key also escapes DEL
// (0x7f), which no account name holds. Zimbra writes the IP of its keys raw;
// an address in text has no byte either escaping touches, so the keys agree.
//
// The address text must be the client's address as Zimbra's nginx prints it
// (nginx_address_text, address_text.hpp: "192.0.2.7", "2001:db8::7"), or the
// keys of a mixed fleet part for IPv6 clients.
//
// Thread affinity: none (pure functions).

#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::throttle {

// The mail protocols Zimbra counts per IP; the letter in the key.
enum class MailProtocol { imap, pop3 };

// throttle:proto=<i|p>,ip=<address>: connections from one address in the window.
std::string ip_counter_key(MailProtocol protocol, std::string_view address);

// throttle:user=<qualified user>: successful logins of one account in the window.
std::string user_counter_key(std::string_view qualified_user);

// whitelist:ip=<address>: Zimbra's cached whitelist verdict ("1" or "0").
std::string whitelist_verdict_key(std::string_view address);

// zmproxy:authfail:user=<qualified user>,ip=<address>: failed logins of one
// account from one address (ours; not in Zimbra).
std::string failed_login_key(std::string_view qualified_user, std::string_view address);

// Reading keys back (zmproxyctl throttle): which counter a memcached key is.
enum class KeyKind { ip, user, failed_logins, whitelist_verdict };

struct ParsedKey {
  KeyKind kind = KeyKind::ip;
  MailProtocol protocol = MailProtocol::imap;  // KeyKind::ip only
  std::string address;                         // ip, failed_logins, whitelist_verdict
  std::string user;                            // user, failed_logins
};

// The counter `key` (as memcached holds it) is, its escaping undone (any
// %XX, either case, and raw bytes as a Zimbra proxy may write them); nullopt
// for any other key, a malformed escape, an empty user or address, or a key
// too long to read back (safe_key replaced it by an MD5). In a failed-login
// key the address is the part after the last ",ip=": an address never holds
// ",", a user may.
std::optional<ParsedKey> parse_throttle_key(std::string_view key);

}  // namespace zmproxy::throttle

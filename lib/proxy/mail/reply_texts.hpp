#pragma once
// What the mail sessions say to a client, IMAP beside POP3: one row a
// situation (nginx keeps such canned texts in its protocol table). The
// k_bye_* rows are whole lines that end the session (IMAP untagged BYE);
// the others follow the client's tag in IMAP (the protocol's tagged())
// and are the whole status line in POP3. Pure data.

#include "lib/config/proxy_config.hpp"
#include "lib/proxy/counters.hpp"
#include "lib/throttle/throttle_keys.hpp"

#include <string_view>

namespace zmproxy::proxy::mail {

struct ReplyText {
  std::string_view imap;
  std::string_view pop3;
};

// clang-format off
inline constexpr ReplyText k_bye_login_timeout{
    "* BYE login took too long; closing the connection\r\n",
    "-ERR login took too long; closing the connection\r\n"};
inline constexpr ReplyText k_bye_idle{
    "* BYE idle too long; closing the connection\r\n",
    "-ERR idle too long; closing the connection\r\n"};
inline constexpr ReplyText k_bye_too_long{
    "* BYE [TOOBIG] command line too long\r\n",
    "-ERR line too long\r\n"};
inline constexpr ReplyText k_bye_too_many_errors{
    "* BYE too many invalid commands\r\n",
    "-ERR too many invalid commands\r\n"};
inline constexpr ReplyText k_bye_too_many_commands{
    "* BYE too many commands before login\r\n",
    "-ERR too many commands before login\r\n"};
inline constexpr ReplyText k_no_mechanism{
    "NO [CANNOT] mechanism not supported",
    "-ERR mechanism not supported"};
inline constexpr ReplyText k_cleartext_auth{
    "NO [PRIVACYREQUIRED] Cleartext authentication is disabled; use STARTTLS or IMAPS",
    "-ERR [AUTH] Cleartext authentication is disabled; use STLS or POP3S"};
inline constexpr ReplyText k_cleartext_login{
    "NO [PRIVACYREQUIRED] Cleartext logins are disabled; use STARTTLS or IMAPS",
    "-ERR [AUTH] Cleartext logins are disabled; use STLS or POP3S"};
inline constexpr ReplyText k_sasl_cancelled{
    "BAD AUTHENTICATE aborted",
    "-ERR authentication aborted"};
inline constexpr ReplyText k_sasl_invalid{  // followed by what was wrong
    "BAD [CLIENTBUG] ",
    "-ERR "};
inline constexpr ReplyText k_tls_refused{
    "BAD STARTTLS is not available here",
    "-ERR STLS is not available here"};
inline constexpr ReplyText k_tls_go{
    "OK Begin TLS negotiation now",
    "+OK Begin TLS negotiation"};
inline constexpr ReplyText k_invalid_login_name{
    "NO [AUTHENTICATIONFAILED] invalid login name",
    "-ERR [AUTH] invalid login name"};
inline constexpr ReplyText k_bad_password{
    "NO [AUTHENTICATIONFAILED] a password may not hold CR, LF or NUL",
    "-ERR [AUTH] a password may not hold CR, LF or NUL"};
inline constexpr ReplyText k_mailbox_unreachable{
    "NO [UNAVAILABLE] The mailbox server is not reachable; try again later",
    "-ERR [SYS/TEMP] The mailbox server is not reachable; try again later"};
inline constexpr ReplyText k_lookup_unavailable{
    "NO [UNAVAILABLE] Login service is unavailable; try again later",
    "-ERR [SYS/TEMP] Login service is unavailable; try again later"};
inline constexpr ReplyText k_mailbox_not_responding{
    "NO [UNAVAILABLE] The mailbox server is not responding; try again later",
    "-ERR [SYS/TEMP] The mailbox server is not responding; try again later"};
// The lookup refused the user (not found, not allowed).
inline constexpr ReplyText k_route_refused_login{
    "NO [AUTHENTICATIONFAILED] LOGIN failed",
    "-ERR [AUTH] LOGIN failed"};
inline constexpr ReplyText k_route_refused_sasl{
    "NO [AUTHENTICATIONFAILED] AUTHENTICATE failed",
    "-ERR [AUTH] authentication failed"};
// The mailbox refused the login (upstream.pass_errors off).
inline constexpr ReplyText k_mailbox_refused_login{
    "NO [AUTHENTICATIONFAILED] LOGIN failed",
    "-ERR [AUTH] Authentication failed"};
inline constexpr ReplyText k_mailbox_refused_sasl{
    "NO [AUTHENTICATIONFAILED] AUTHENTICATE failed",
    "-ERR [AUTH] Authentication failed"};
// The mailbox refused the login (upstream.pass_errors on): followed by its text.
inline constexpr ReplyText k_mailbox_said{
    "NO ",
    "-ERR "};
// Login throttling (lib/proxy/throttle_gate.hpp): the prefixes of the
// configured messages. Over the per-address limit, instead of the greeting
// (a whole line with the message); a login over the user limit or a pair
// past throttle.failed_lock: IMAP "* BYE <text>" then "<tag> NO [LIMIT]
// <text>", POP3 "-ERR [LOGIN-DELAY] <text>" (RFC 2449), then close.
inline constexpr ReplyText k_bye_throttled_address{
    "* BYE [UNAVAILABLE] ",
    "-ERR [SYS/TEMP] "};
inline constexpr ReplyText k_bye_throttled_login{
    "* BYE ",
    ""};
inline constexpr ReplyText k_throttled_login{
    "NO [LIMIT] ",
    "-ERR [LOGIN-DELAY] "};
// clang-format on

inline constexpr std::string_view k_failed_logins_text = "Too many failed logins; try again later";

// A protocol's names, counters, settings and column of the table above.
struct MailProtocol {
  const char* name;      // imap, pop3: log component, access log, route lookup
  const char* tls_name;  // imaps, pop3s
  Protocol plain;
  Protocol implicit_tls;
  config::MailSection config::ProxyConfig::*settings;
  std::string_view ReplyText::*texts;
  throttle::MailProtocol counted_as;  // the letter of its throttle:proto= key
};

}  // namespace zmproxy::proxy::mail

#pragma once
// SASL helpers shared by IMAP AUTHENTICATE and POP3 AUTH. Pure (standard
// library plus core/base64), no I/O, no logging.
//
//  - Mechanism names (case-insensitive, RFC 4422 §3.1).
//  - Client responses on the wire: the initial response of SASL-IR (RFC 4959)
//    and POP3 AUTH (RFC 5034), where "=" means "empty"; continuation lines,
//    where "*" cancels and an empty line is an empty response. Base64 is
//    strict: padded, no whitespace, nothing else on the line.
//  - PLAIN (RFC 4616): decode "authzid NUL authcid NUL passwd" with strict
//    checks, and encode the same (upstream login, master-user proxy auth).
//  - LOGIN (draft-murchison-sasl-login): the two prompts and the two answers.
//  - XOAUTH2 / OAUTHBEARER (RFC 7628): the initial response is passed through
//    opaque; only the user name is read out of it, for routing.
//
// Passwords are returned in plain std::string members named `password`; the
// caller wraps them at once (core Secret) and never logs them.
//
// Thread affinity: none (pure functions).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::proxy::mail {

// Length limits (those of nginx's mail module), applied after base64 decoding.
inline constexpr std::size_t k_max_sasl_login = 256;      // authcid, authzid, LOGIN user
inline constexpr std::size_t k_max_sasl_password = 1024;  // PLAIN passwd, LOGIN password
// Base64 text of one client response (tokens for XOAUTH2 and OAUTHBEARER run
// to a few KiB). Longer responses are refused before decoding.
inline constexpr std::size_t k_max_sasl_response = 8192;
// Base64 text of one GSSAPI token: a Kerberos AP-REQ with a large PAC
// (krb5::k_max_gss_token, 64 KiB, encoded).
inline constexpr std::size_t k_max_gssapi_response = (64 * 1024 + 2) / 3 * 4;

enum class SaslMechanism {
  plain,
  login,
  xoauth2,
  oauthbearer,
  gssapi,
  external,
  cram_md5,
  unknown,
  // Zimbra's mailbox-only mechanism ("authz NUL authc NUL token"): only the
  // proxy sends it upstream (kerberos_login.hpp); never parsed from a client.
  x_zimbra
};

// Case-insensitive; anything not listed is `unknown` (X-ZIMBRA too).
SaslMechanism parse_sasl_mechanism(std::string_view name) noexcept;
// The canonical upper-case name; "" for unknown.
std::string_view sasl_mechanism_name(SaslMechanism mechanism) noexcept;

enum class SaslError {
  none,
  bad_base64,      // not strict padded base64
  too_long,        // response, authcid/authzid/login or password over its limit
  malformed,       // PLAIN: not exactly two NULs; LOGIN: NUL in a value; OAuth: no user
  empty_authcid,   // PLAIN authcid or LOGIN user name is empty
  empty_password,  // PLAIN passwd or LOGIN password is empty
  bad_characters,  // CR or LF in a login name (authcid/authzid/LOGIN user)
};
// A short English reason, for logs and protocol replies ("invalid base64").
std::string_view sasl_error_text(SaslError error) noexcept;

// ---- Client responses -------------------------------------------------------

enum class SaslResponseKind { data, cancel, error };
struct SaslResponse {
  SaslResponseKind kind = SaslResponseKind::error;
  std::string data;                   // decoded bytes when kind == data
  SaslError error = SaslError::none;  // when kind == error
};

// The initial response after the mechanism name: "=" is an empty response;
// anything else must be non-empty base64. Never `cancel`. Text over `max`
// bytes is too_long.
SaslResponse decode_initial_response(std::string_view text, std::size_t max = k_max_sasl_response);
// A continuation line (CR LF already stripped): "*" cancels, "" is an empty
// response, anything else must be base64. "=" is not accepted here (RFC 4959
// defines it for the initial response only).
SaslResponse decode_continuation(std::string_view line, std::size_t max = k_max_sasl_response);

// The wire form of an initial response: "=" for empty, else base64.
std::string encode_initial_response(std::string_view data);

// ---- PLAIN (RFC 4616) --------------------------------------------------------

struct PlainCredentials {
  std::string authzid;   // empty: act as authcid
  std::string authcid;   // the login name
  std::string password;  // wrap in a Secret at once

  bool operator==(const PlainCredentials&) const = default;
};

struct PlainResult {
  SaslError error = SaslError::none;
  PlainCredentials credentials;  // meaningful when ok()
  bool ok() const noexcept { return error == SaslError::none; }
};

// Validates already-decoded bytes: exactly two NULs; authcid 1..256 bytes,
// authzid 0..256, neither with CR or LF; passwd 1..1024 bytes (any other
// byte allowed; UTF-8 is not checked, as nginx and Zimbra do not).
PlainResult parse_plain(std::string_view decoded);
// base64 -> parse_plain. "=" is not special here: use decode_initial_response
// first when reading an initial response.
PlainResult decode_plain(std::string_view base64);
// The raw message "authzid\0authcid\0passwd" and its base64. The inverse of
// parse_plain/decode_plain for every value parse_plain accepts.
std::string plain_message(const PlainCredentials& credentials);
std::string encode_plain(const PlainCredentials& credentials);

// ---- LOGIN ------------------------------------------------------------------

// base64("Username:") and base64("Password:"), the server's prompts.
inline constexpr std::string_view k_login_username_prompt = "VXNlcm5hbWU6";
inline constexpr std::string_view k_login_password_prompt = "UGFzc3dvcmQ6";

struct SaslValue {
  SaslError error = SaslError::none;
  std::string value;
  bool ok() const noexcept { return error == SaslError::none; }
};
// Checks a decoded LOGIN answer. The user: 1..256 bytes, no NUL, CR or LF.
// The password: 1..1024 bytes, no NUL.
SaslValue check_login_username(std::string_view decoded);
SaslValue check_login_password(std::string_view decoded);

// ---- XOAUTH2 / OAUTHBEARER (opaque pass-through) ------------------------------

// The user a decoded initial response names, for routing only; the token is
// never looked at. XOAUTH2: "user=<u>\x01auth=Bearer <t>\x01\x01".
// OAUTHBEARER (RFC 7628 §3.1): GS2 header "n,a=<u>,..." with "=2C"/"=3D"
// unescaped. `malformed` when no user is present, or it is over 256 bytes or
// has CR, LF or NUL.
SaslValue oauth_user(SaslMechanism mechanism, std::string_view decoded);

}  // namespace zmproxy::proxy::mail

#pragma once
// Which mailbox an HTTP request belongs to, read from the request line and a
// few headers (REFERENCE-zimbra §7.3, Zimbra's zmauth upstream module). Pure:
// standard library plus core/base64, core/strings, jwt.hpp and json_scan.hpp,
// no I/O, no logging, no allocation beyond the returned strings, so it can be
// fuzzed (tests/fuzz/http_route_fuzz.cpp). Query arguments are
// percent-decoded with core::percent_decode.
//
// extract_route() tries these rules in order; the first that yields a key wins:
//  1. REST      /home/<user>/, /home/~<user>/, /service/home/<user>/,
//               /service/home/~<user>/ (case-sensitive prefixes). /home/~/ and
//               /service/home/~/ mean "the token's owner" and fall through.
//  2. ActiveSync /Microsoft-Server-ActiveSync... (case-insensitive prefix)
//  3. EWS       /ews/Exchange.asmx... (case-insensitive prefix)
//               Both: the user of "Authorization: Basic" (before ':'), else
//               the User= query argument; DOMAIN\user becomes user@DOMAIN.
//  4. DAV       /dav/<user>/, /principals/users/<user>/ (case-sensitive)
//  5. Token     the ZM_AUTH_TOKEN cookie, else the zauthtoken= query argument:
//               its `id` field, as Kind::zimbra_id (the token is not verified)
//  6. JWT       "Authorization: Bearer h.p.s", else the zjwt= query argument:
//               the payload's top-level "sub" string, as Kind::zimbra_id
//  7. IP hash   anything else (login page, static files)
//
// Unlike Zimbra (§10), user names are percent-decoded (UTF-8 bytes pass
// through). A rule that finds no usable value falls through to the next one:
// an empty user segment, a malformed %-escape, a decoded name with a control
// byte (< 0x20, 0x7f) or longer than k_max_route_name, an undecodable token.
// Rules match the path of the raw request-target (origin form, or the
// absolute form "http://host/path"), before any normalisation.
//
// Thread affinity: none (pure functions).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::proxy::http {

// Longest user name or zimbraId a rule accepts (Zimbra's account name limit).
inline constexpr std::size_t k_max_route_name = 256;
// Longest auth token or JWT that is decoded at all.
inline constexpr std::size_t k_max_route_token = 8192;

struct RouteKey {
  enum class Kind { user, zimbra_id, ip_hash } kind = Kind::ip_hash;
  std::string value;   // user name (decoded) or zimbraId; empty for ip_hash
  bool admin = false;  // look up as admin (Auth-Zimbra-Admin: True); extract_admin_route only

  bool operator==(const RouteKey&) const = default;
};

struct RequestView {
  std::string_view method;
  std::string_view target;         // raw request-target
  std::string_view host;           // Host header
  std::string_view cookie;         // all Cookie headers, joined with "; "
  std::string_view authorization;  // Authorization header
  std::string_view user_agent;
};

// The web client / mailbox upstreams (Zimbra's zmauth): rules 1..7 above.
RouteKey extract_route(const RequestView& r);

// The admin console upstream (Zimbra's zmauth_admin): only the
// ZM_ADMIN_AUTH_TOKEN cookie counts; its id with admin = true, else ip_hash.
RouteKey extract_admin_route(const RequestView& r);

// Zimbra's IP hash over the address bytes (4 for IPv4, 16 for IPv6, network
// order): hash = 89; per byte hash = (hash * 113 + byte) % 6271; the peer is
// hash % peers. `attempt` k repeats the byte loop k + 1 times, which is how
// nginx moves on when the chosen peer is down. Accepts "1.2.3.4", "::1",
// "[::1]" and "fe80::1%eth0" (zone ignored); text that is no address is
// hashed as its bytes, so the result is still stable. 0 when peers == 0.
std::size_t ip_hash(std::string_view client_ip, std::size_t peers, std::size_t attempt = 0);

// Locations whose upstream read timeout is the long-poll one: ActiveSync,
// /service/soap/NoOpRequest, /service/soap/WaitSetRequest, EWS. A query
// string, if present, is ignored.
bool is_long_poll(std::string_view path);

// Which upstream read timeout a location has (Zimbra's nginx locations):
// polling for ActiveSync and EWS (zimbraReverseProxyUpstreamPollingTimeout),
// noop for /service/soap/NoOpRequest and waitset for
// /service/soap/WaitSetRequest (localconfig + 20 s), else read
// (zimbraReverseProxyUpstreamReadTimeout). The same prefixes as is_long_poll.
enum class ReadTimeoutKind { read, polling, noop, waitset };
ReadTimeoutKind read_timeout_kind(std::string_view path);

// True when the raw request-target contains %0A or %0D (any case), or a raw
// CR or LF byte: such requests get 403 (ZBUG-2706, §9 #4).
bool has_raw_crlf_escape(std::string_view target);

// The `id` field of a ZM_AUTH_TOKEN / ZM_ADMIN_AUTH_TOKEN value
// "<keyVersion>_<hmac>_<hexdata>", where hexdata decodes to
// "name=len:value;..." fields. "" when the token does not decode (keyVersion
// not decimal, hmac not hex, hexdata not even-length hex, a field that breaks
// the format), has no id, or the id is over k_max_route_name bytes or has a
// byte outside 0x21..0x7e.
std::string parse_zm_auth_token_id(std::string_view token);

// The top-level "sub" claim of a JWS compact token "header.payload.signature"
// (payload base64url, padding optional; jwt_payload in jwt.hpp, then
// json_top_level_string in json_scan.hpp). Nothing is verified. Surrounding
// spaces and tabs are ignored. nullopt when the token is empty or over
// k_max_route_token bytes, is not three segments, the payload is not a JSON
// object, "sub" is missing, repeated, not a string, empty, over
// k_max_route_name bytes or has a control byte after unescaping.
std::optional<std::string> jwt_subject(std::string_view jwt);

// ---- Helpers, exposed for the other HTTP units and for tests ---------------

// The path and query of a request-target. Origin form "/p?q#f" -> "/p", "q";
// absolute form "http://h/p?q" -> "/p", "q" (path "" when it has none);
// anything else ("*", authority form) -> the whole target as path, no query.
struct TargetParts {
  std::string_view path;
  std::string_view query;
};
TargetParts split_target(std::string_view target) noexcept;

// The decoded value of the first query argument named `name` (the name is
// compared after decoding, case-sensitively unless ignore_case). nullopt when
// absent or when the value does not decode.
std::optional<std::string> query_arg(std::string_view query, std::string_view name,
                                     bool ignore_case = false);

// The values of every cookie named `name` (case-sensitive, RFC 6265) in a
// Cookie header, in order, with surrounding double quotes removed.
std::vector<std::string_view> cookie_values(std::string_view cookie_header, std::string_view name);

// The user of an "Authorization: Basic" header (the scheme in any case):
// the credentials base64-decoded, the part before the first ':', DOMAIN\user
// as user@DOMAIN (split at the first backslash, as Zimbra does; \user is
// user). nullopt for another scheme, credentials over k_max_route_token
// bytes or not base64, or a name is_usable_name refuses. ActiveSync and EWS
// routing use it, and the web login throttle (login_user.hpp).
std::optional<std::string> basic_user(std::string_view authorization);

// A user name a rule may return: 1..k_max_route_name bytes, no control
// byte (< 0x20, 0x7f).
bool is_usable_name(std::string_view s) noexcept;

// True when the Cookie header carries a non-empty ZM_AUTH_TOKEN (what the
// mail modes and the login-upstream choice of §7.2 look at).
bool has_auth_token_cookie(std::string_view cookie_header);

}  // namespace zmproxy::proxy::http

#pragma once
// The proxy's HTTP mail mode (zimbraReverseProxyMailMode, REFERENCE-zimbra
// §3.1): which listeners exist, and which requests are redirected between
// HTTP and HTTPS. Pure.
//
//   mode      HTTP  HTTPS  behaviour
//   http      yes   no     plain only
//   https     no    yes    TLS only
//   both      yes   yes    a request stays on the scheme it came in on
//   redirect  yes   yes    every HTTP request: 302 to https://host[:sslport]/target
//   mixed     yes   yes    TLS for login, clear text afterwards (see decide())
//
// Thread affinity: none (pure functions).

#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::proxy::http {

enum class MailMode { http, https, both, redirect, mixed };

// Zimbra's enum values, case-insensitive; nullopt for anything else
// (including ""; Zimbra's config generator then uses "both").
std::optional<MailMode> parse_mail_mode(std::string_view text);
// "http", "https", "both", "redirect", "mixed".
std::string_view mail_mode_name(MailMode mode) noexcept;

struct Listeners {
  bool http = false;   // zimbraMailProxyPort
  bool https = false;  // zimbraMailSSLProxyPort

  bool operator==(const Listeners&) const = default;
};
Listeners listeners_for(MailMode mode) noexcept;

struct ModeDecision {
  bool redirect = false;  // answer 302 with `location`
  std::string location;
  // A redirect is due but the Host header is missing or malformed, so no
  // Location can be built: answer 400 (redirect stays false). Never serve
  // the request on this scheme instead.
  bool bad_host = false;
};

// The redirect (if any) for one request.
//  - redirect mode, HTTP side: every request -> https://host[:https_port]<target>.
//  - mixed mode, HTTP side, first match:
//      path ends in "changepass"           -> https://host[:https_port]<target>
//      no ZM_AUTH_TOKEN cookie, or the
//      query has loginOp=logout            -> the same, with zminitmode=http
//                                             appended to the query (once)
//  - mixed mode, HTTPS side: a ZM_AUTH_TOKEN cookie and zminitmode=http in
//    the query -> http://host[:http_port]<target>, except for changepass and
//    for loginOp=logout (which would loop back to HTTPS).
//  - http, https, both, and every other case: no redirect.
// `host` is the Host header; its own port, if any, is replaced. The port is
// left out when it is the scheme's default (443, 80) or not in 1..65535.
// The target keeps its query; an absolute-form target is reduced to its path
// and query; bytes <= 0x20 or >= 0x7f in it are percent-encoded.
ModeDecision decide(MailMode mode, bool request_is_tls, std::string_view host, std::string_view target,
                    bool has_auth_cookie, int https_port, int http_port);

}  // namespace zmproxy::proxy::http

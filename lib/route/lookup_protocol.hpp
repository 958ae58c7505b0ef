#pragma once
// Zimbra's route lookup wire protocol (nginx-lookup): the request nginx sends
// as HTTP headers and the reply the handler gives, both directions, plus the
// percent-encoding of Auth-User. Pure. See REFERENCE-zimbra.md section 1.
//
// Where Zimbra is wrong we are right, in both directions: Auth-User is
// percent-decoded as UTF-8 bytes (%C3%A9 is é, %2F is /), a malformed escape is
// an error, and replies encode the user exactly once (a space is %20).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/core/result.hpp"

namespace zmproxy::route {

inline constexpr std::string_view k_lookup_path = "/service/extension/nginx-lookup";
// Our optional caller authentication header (off unless configured).
inline constexpr std::string_view k_secret_header = "X-Zmproxy-Lookup-Secret";

struct LookupRequest {
  std::string method = "username";  // Auth-Method: username | zimbraId | gssapi | certauth | ...
  std::string user;                 // Auth-User, decoded
  std::string password = "_password_";  // Auth-Pass: a placeholder; never the real one
  std::string protocol;             // Auth-Protocol: imap imapssl pop3 pop3ssl http httpssl
  int login_attempt = 1;            // Auth-Login-Attempt
  std::string client_ip;            // Client-IP
  std::string proxy_ip;             // X-Proxy-IP
  std::string proxy_host;           // X-Proxy-Host (web)
  bool admin = false;               // Auth-Zimbra-Admin: True
  bool zx = false;                  // Auth-Zimbra-Zx: True
  std::string auth_id;              // Auth-ID (gssapi)
  std::string admin_user;           // Auth-Admin-User (gssapi, certauth)
  std::string admin_pass;           // Auth-Admin-Pass
  std::string secret;               // X-Zmproxy-Lookup-Secret
};

struct LookupResponse {
  bool ok = false;
  std::string status;  // "OK", or the error text
  std::string server;  // Auth-Server: IP or host name
  int port = 0;        // Auth-Port
  std::string user;    // Auth-User, decoded
  bool cache_alias = false;  // Auth-Cache-Alias
  int wait_seconds = 0;      // Auth-Wait (errors)
  std::string auth_id;       // Auth-ID (gssapi)
  std::string token;         // Auth-Pass (gssapi, certauth)

  static LookupResponse error(std::string text, int wait) {
    LookupResponse r;
    r.status = std::move(text);
    r.wait_seconds = wait;
    return r;
  }
  // An OK routing `user` to server:port.
  static LookupResponse route(std::string server, int port, std::string user) {
    LookupResponse r;
    r.ok = true;
    r.status = "OK";
    r.server = std::move(server);
    r.port = port;
    r.user = std::move(user);
    return r;
  }
  // The same two made in place: every field set as error() and route() set
  // it, the strings' buffers kept (no allocation once they have grown).
  void assign_error(std::string_view text, int wait);
  void assign_route(std::string_view to_server, int to_port, std::string_view to_user);
};

using Headers = std::vector<std::pair<std::string, std::string>>;
// The same, as views into a request's bytes (lookup_head.hpp).
using HeaderViews = std::vector<std::pair<std::string_view, std::string_view>>;

bool is_mail_protocol(std::string_view protocol) noexcept;  // imap imapssl pop3 pop3ssl
bool is_web_protocol(std::string_view protocol) noexcept;   // http httpssl
bool is_known_protocol(std::string_view protocol) noexcept;

// nginx's NGX_ESCAPE_MAIL_AUTH, made exact: space, '%', control bytes, DEL
// and bytes >= 0x80 become %XX.
std::string percent_encode(std::string_view s);
// Decode %XX (hex, either case) to bytes; a '%' not followed by two hex
// digits is an error.
Result<std::string> percent_decode(std::string_view s);

// Server side: the request's headers (names case-insensitive) -> request.
// A missing Auth-User, Auth-Method or Auth-Protocol is an error whose text is
// Zimbra's ("missing header field Auth-User").
Result<LookupRequest> parse_lookup_request(const Headers& headers);
Result<LookupRequest> parse_lookup_request(const HeaderViews& headers);
// The same into `out`, every field set, its strings' buffers kept (a
// connection reuses one request: no allocation once they have grown).
Result<void> parse_lookup_request(const HeaderViews& headers, LookupRequest& out);
// The reply's header lines ("Name: value\r\n" each), without the status line.
std::string format_lookup_response(const LookupResponse& r);
// The same lines appended to `out` (no temporary strings).
void append_lookup_response(std::string& out, const LookupResponse& r);

// Client side: the request's header lines (after the request line), and the
// reply's headers -> response. An OK without a usable server/port is an error.
std::string format_lookup_request(const LookupRequest& r, std::string_view host);
Result<LookupResponse> parse_lookup_response(const Headers& headers);

}  // namespace zmproxy::route

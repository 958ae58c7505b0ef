#pragma once
// Which user a web request tries to log in as, for the failed-login
// throttle (ThrottleGate, LoginKind::web: failures per user and client
// address). Pure: standard library, lib/core and route_extract's helpers
// (pure themselves), no I/O, no logging, so it can be fuzzed.
//
// A request is a login when it carries:
//  - an "Authorization: Basic" header, on any path (ActiveSync, EWS, DAV,
//    REST, SOAP): the user before ':' in the decoded credentials, DOMAIN\user
//    as user@DOMAIN (basic_user in route_extract.hpp, the same name
//    ActiveSync routing uses);
//  - else a /service/preauth path with an account= query argument
//    (percent-decoded; taken as given whatever by= says: a name, an id or a
//    foreign principal names one account all the same).
// A name that is empty, has a control byte or is over k_max_route_name
// bytes is no login (nullopt), nor is anything else.
//
// Not seen here: /service/soap/AuthRequest and the "/" login form (a POST)
// carry the user in the request body, which the proxy streams to the
// mailbox unread. They are not throttled by the proxy; the mailbox's own
// limits apply (zimbraPasswordLockout*).
//
// Thread affinity: none (a pure function).

#include "lib/proxy/http/route_extract.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::proxy::http {

std::optional<std::string> login_user(const RequestView& r);

// Whether a 2xx or 3xx answer to the login at `target` proves its
// credentials right (so its pair's failures may be forgiven): ActiveSync,
// EWS, DAV (/dav/, /principals/) and /service/preauth check them on every
// request. Elsewhere a Basic header may be ignored by the mailbox (the
// login page, static files answer 200 to anyone), and a success there
// forgives nothing, or a guesser could clear its count between guesses.
bool success_proves_login(std::string_view target) noexcept;

}  // namespace zmproxy::proxy::http

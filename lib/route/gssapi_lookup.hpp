#pragma once
// zmlookupd's gssapi lookups (REFERENCE-zimbra.md 1.4, 1.5 step 2): a proxy
// that authenticated a Kerberos principal asks for the route of the account
// holding it (zimbraForeignPrincipal "kerberos5:<principal>") and gets, with
// the route, a short-lived token for that account (lookup_token.hpp). Since
// the answer vouches for a login, the caller is checked first and more
// strictly than Zimbra does: X-Proxy-IP AND the connection's TCP peer must be
// in globalConfig zimbraReverseProxyAdminIPAddress (addresses or CIDRs), and
// Auth-Admin-User/Auth-Admin-Pass must be an admin account's name and
// password. Pure given the index, the peer, the secret and the clock.

#include "lib/core/result.hpp"
#include "lib/route/token_lookup.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace zmproxy::route {

// Header limits of a gssapi request (nginx's login and password limits).
inline constexpr std::size_t k_gssapi_max_name = 256;
inline constexpr std::size_t k_gssapi_max_pass = 1024;

// Auth-ID, Auth-User, Auth-Admin-User, Auth-Admin-Pass and X-Proxy-IP present
// and non-empty ("(GSSAPI) missing header field Auth-ID", as Zimbra), within
// their bounds and free of control bytes ("(GSSAPI) invalid header field ...").
Result<void> check_gssapi_request(const LookupRequest& request);

// The account the principal authenticated, and the name it may act as:
// the account's own name when Auth-User == Auth-ID, else Auth-User qualified
// as for a plain lookup, which must name the same account (no delegated
// rights). The error is Zimbra's text.
struct GssapiAuthz {
  const Entry* account = nullptr;
  std::string user;  // the account's name (zimbraMailDeliveryAddress), lower case
};
Result<GssapiAuthz> authorize_gssapi(const LookupRequest& request, const RouteIndex& index);

using GssapiCaller = TokenCaller;

// The whole gssapi lookup: the checks above in order (headers, secret
// configured, caller addresses, admin credentials, principal, authorization),
// then the route as for a username lookup of the account, with Auth-User the
// account's name, Auth-ID the same, and Auth-Pass a token valid for
// k_lookup_token_lifetime_s. Every refusal is an error answer.
LookupAnswer handle_gssapi_lookup(const LookupRequest& request,
                                  const RouteIndex& index,
                                  std::string_view handler_server,
                                  const GssapiCaller& caller);

}  // namespace zmproxy::route

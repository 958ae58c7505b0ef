#pragma once
// What zmlookupd's lookups that vouch for a login share (gssapi,
// certauth; REFERENCE-zimbra.md 1.4, 1.5 steps 2-3): the proxy already
// authenticated the user (a Kerberos ticket, a client certificate) and asks
// for the account's route together with a short-lived token for it
// (lookup_token.hpp). Since the answer vouches for a login, the caller is
// checked first and more strictly than Zimbra does: X-Proxy-IP AND the
// connection's TCP peer must be in globalConfig
// zimbraReverseProxyAdminIPAddress (addresses or CIDRs), and
// Auth-Admin-User/Auth-Admin-Pass must be an admin account's name and
// password. Such answers are never cached, on either side. Pure given the
// index, the peer, the secret and the clock.

#include "lib/core/result.hpp"
#include "lib/route/lookup_handler.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::route {

// One header field a vouching lookup requires: its name, value and longest length.
struct RequiredField {
  std::string_view name;
  const std::string& value;
  std::size_t limit;
};
// Every field present, then each within its limit and free of control
// bytes; else "(<method>) missing header field X" / "(<method>) invalid
// header field X", as Zimbra words them. `method`: GSSAPI, CERTAUTH.
Result<void> check_required_fields(std::string_view method, std::initializer_list<RequiredField> fields);

// globalConfig zimbraReverseProxyAuthWaitInterval in seconds (10 unset).
int auth_wait_seconds(const RouteIndex& index);

// Whether X-Proxy-IP and the TCP peer are in zimbraReverseProxyAdminIPAddress;
// the error is the answer's text ("X-Proxy-IP <ip> is not allowed").
Result<void> check_token_caller(const LookupRequest& request,
                                const RouteIndex& index,
                                std::string_view peer);

// Whether Auth-Admin-User names an account (a bare name in the default
// domain) with zimbraIsAdminAccount TRUE whose userPassword matches
// Auth-Admin-Pass (lib/provisioning/password.hpp, constant time).
bool admin_credentials_ok(const RouteIndex& index, std::string_view user, std::string_view pass);

struct TokenCaller {
  std::string peer;      // the lookup connection's TCP peer address (IPv4-mapped unmapped)
  std::string secret;    // zmlookupd's secret (zmlookupd_secret): keys the token
  std::int64_t now = 0;  // Unix seconds
};

// The checks every vouching lookup makes after its own header checks, in
// order: a secret to key the token ("<method> lookups need
// zmlookupd_secret ..."), the caller's addresses, the admin credentials.
// The refusal's text, or nothing when the caller may have a token.
std::optional<std::string> refuse_token_caller(std::string_view method,
                                               const LookupRequest& request,
                                               const RouteIndex& index,
                                               const TokenCaller& caller);

// The error answer `text` with Auth-Wait (zimbraReverseProxyAuthWaitInterval).
LookupAnswer token_lookup_error(const RouteIndex& index, std::string text);

// Every refusal a vouching lookup makes before it looks for its account, in
// order: an unknown protocol, the method's own header check (`checked`),
// then refuse_token_caller. Nothing when the lookup may go on.
std::optional<LookupAnswer> refuse_token_lookup(std::string_view method,
                                                const Result<void>& checked,
                                                const LookupRequest& request,
                                                const RouteIndex& index,
                                                const TokenCaller& caller);

// The route of `user` (the account's own name) as a username lookup of the
// same protocol and type answers it, with Auth-User `user` and Auth-Pass a
// token for `user` valid for k_lookup_token_lifetime_s.
LookupAnswer route_with_token(const LookupRequest& request,
                              const RouteIndex& index,
                              std::string_view handler_server,
                              const TokenCaller& caller,
                              const std::string& user);

}  // namespace zmproxy::route

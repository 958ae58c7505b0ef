#pragma once
// zmlookupd's certauth lookups (REFERENCE-zimbra.md 1.4, 1.5 step 3): a
// proxy that verified a client certificate asks, with Auth-Method certauth
// and the certificate's subject DN in Auth-User, for the account it names
// and gets the account's route and a short-lived token for it in Auth-Pass.
// The account is Zimbra's: the subject's emailAddress attribute (E, or its
// OID), each in the order written, names an account by its address or an
// alias (ClientCertAuthenticator.getAccountByX509SubjectDN); nothing else of
// the subject (CN, O) is used. Unlike Zimbra, which answers the dummy route
// 127.0.0.1:9999, the answer routes the account as a username lookup of the
// same protocol and type does (the proxy forwards /certauth there). The
// caller is checked as for gssapi (token_lookup.hpp). Pure given the index,
// the peer, the secret and the clock.

#include "lib/core/result.hpp"
#include "lib/route/token_lookup.hpp"

#include <string>
#include <string_view>

namespace zmproxy::route {

// Header limits of a certauth request: a subject of up to 1024 bytes (the
// proxy sends at most that), nginx's login and password limits for the rest.
inline constexpr std::size_t k_certauth_max_subject = 1024;

// Auth-User, Auth-Admin-User, Auth-Admin-Pass and X-Proxy-IP present and
// non-empty ("(CERTAUTH) missing header field X-Proxy-IP", as Zimbra), within
// their bounds and free of control bytes ("(CERTAUTH) invalid header field ...").
Result<void> check_certauth_request(const LookupRequest& request);

// The account the subject names (see above); the error is the answer's text:
// "invalid X509 subject: <why>" or "account not found: <subject>".
Result<const Entry*> certauth_account(std::string_view subject, const RouteIndex& index);

// The whole certauth lookup: the request's headers, the secret, the caller's
// addresses, the admin credentials, the account, then the account's route
// with Auth-User its name (zimbraMailDeliveryAddress) and Auth-Pass a token.
// Every refusal is an error answer.
LookupAnswer handle_certauth_lookup(const LookupRequest& request,
                                    const RouteIndex& index,
                                    std::string_view handler_server,
                                    const TokenCaller& caller);

}  // namespace zmproxy::route

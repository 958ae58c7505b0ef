#pragma once
// The short-lived token zmlookupd hands a proxy in Auth-Pass after a gssapi
// lookup: proof, for whoever holds zmlookupd's secret (zmlookupd_secret),
// that the lookup vouched for this user until the expiry. Pure.
//
// Format (ASCII, no spaces): "zmlt1:<expiry>:<mac>" where <expiry> is the
// Unix time in seconds (decimal) after which the token is void and <mac> is
// the lower-case hex HMAC-SHA256, keyed by the secret, of "<user>|<expiry>"
// (the user exactly as in the answer's Auth-User, decoded). The user is not
// in the token: the verifier names the user it expects.

#include <cstdint>
#include <string>
#include <string_view>

namespace zmproxy::route {

inline constexpr std::string_view k_lookup_token_prefix = "zmlt1:";
inline constexpr std::int64_t k_lookup_token_lifetime_s = 60;

// The token for `user` valid until `expiry` (Unix seconds). Empty when the
// secret is empty (no token can be minted without one).
std::string mint_lookup_token(std::string_view user, std::int64_t expiry, std::string_view secret);

// Whether `token` was minted for `user` with `secret` and has not expired at
// `now` (Unix seconds); the MAC is compared in constant time. An empty
// secret verifies nothing.
bool verify_lookup_token(std::string_view token,
                         std::string_view user,
                         std::int64_t now,
                         std::string_view secret);

}  // namespace zmproxy::route

#pragma once
// HMAC-SHA256 as lower-case hex, and its constant-time check: what the
// sealed memcached routes (route_seal.cpp) and zmlookupd's gssapi tokens
// (lookup_token.cpp) are signed with, and the control endpoint's proofs
// (control_proof.cpp).
//
// Thread affinity: none (pure functions over OpenSSL).

#include <string>
#include <string_view>

namespace zmproxy::net {

// "" when OpenSSL fails.
std::string hmac_sha256_hex(std::string_view secret, std::string_view message);

// Does `given` equal the MAC of `message` under `secret`? Compared in
// constant time; false when the MAC cannot be computed.
bool hmac_sha256_hex_matches(std::string_view given,
                             std::string_view secret,
                             std::string_view message);

}  // namespace zmproxy::net

#pragma once
// JWS compact tokens (RFC 7515 §7.1, "header.payload.signature") as far as
// routing reads them: the payload, decoded. Nothing is verified (the mailbox
// does that); route_extract.hpp takes the "sub" claim from it. Pure: standard
// library only, fuzzed through tests/fuzz/http_route_fuzz.cpp.
//
// Thread affinity: none (pure functions).

#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::proxy::http {

// The payload of a JWS compact token, base64url-decoded. nullopt when the
// token is not exactly three segments (a JWE has five), the header or the
// payload is empty, the header or the signature has a byte outside the
// base64url alphabet and '=', or the payload does not decode. The signature
// may be empty. No length limit: the caller bounds the token.
std::optional<std::string> jwt_payload(std::string_view jwt);

// base64url (RFC 4648 §5), padding optional; no whitespace. nullopt when invalid.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace zmproxy::proxy::http

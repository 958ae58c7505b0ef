#pragma once
// The RFC 4752 section 3.1 security-layer messages of SASL GSSAPI, as plain
// bytes (before gss_wrap, after gss_unwrap). Pure: no Kerberos headers, no I/O.
//
// Once the GSS-API context is complete, the server sends (wrapped) four bytes:
// a bit mask of the security layers it offers and, big-endian in the next
// three, the largest message it can receive. zmproxy offers only "no security
// layer" (0x01) with a maximum of 0: the proxy speaks to the mailbox in the
// clear or over TLS, never inside a GSS-API layer. The client answers
// (wrapped) with the one layer it chose, its own maximum, and the
// authorization identity it asks for (the rest of the message; empty means
// "the authenticated principal itself").
//
// Thread affinity: none (pure functions).

#include "lib/core/result.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace zmproxy::krb5 {

inline constexpr std::uint8_t k_layer_none = 0x01;
inline constexpr std::uint8_t k_layer_integrity = 0x02;
inline constexpr std::uint8_t k_layer_confidentiality = 0x04;

// The longest authorization identity accepted, in bytes (that of a SASL PLAIN
// authzid in the mail sessions).
inline constexpr std::size_t k_max_authzid = 256;

// The server's offer: {0x01, 0, 0, 0}.
std::string server_layer_offer();

// The client's reply, unwrapped: four bytes and the authzid. Succeeds with the
// authzid (maybe empty) when the client chose exactly "no security layer";
// the maximum buffer size it names is ignored then (no layer, no buffer).
// Fails (Errc::invalid_argument, one line naming the cause) when the reply is
// shorter than four bytes, chooses any other layer or none, or its authzid
// is not UTF-8, holds a NUL or another control character, or is longer than
// k_max_authzid.
Result<std::string> parse_client_layer_reply(std::string_view reply);

// The client's side, for tests and test clients: layers, max buffer, authzid.
std::string client_layer_reply(std::uint8_t layers,
                               std::uint32_t max_buffer,
                               std::string_view authzid);

// Whether text is well-formed UTF-8 (no overlong forms, no surrogates, at most
// U+10FFFF).
bool is_utf8(std::string_view text) noexcept;

}  // namespace zmproxy::krb5

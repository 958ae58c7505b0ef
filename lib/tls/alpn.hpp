#pragma once
// ALPN on the server contexts (RFC 7301): "h2" for a connection allowed
// HTTP/2 (tls::allow_h2, lib/tls/tls_context.hpp), else "http/1.1", else no
// answer, so a mail client offering "imap" or nothing is unaffected. The
// client's list is hostile bytes: every length is checked before use.

#include <cstddef>
#include <string_view>

#include <openssl/ssl.h>

namespace zmproxy::tls {

// What the server answers to a client's protocol list (wire format: 1-byte
// length, that many bytes, repeated): "h2" when `h2_allowed` and offered,
// else "http/1.1" when offered, else "" (no ALPN). A list that is empty,
// has an empty entry or an entry running past its end answers "". The
// answer is a view into `list` (OpenSSL keeps pointing at it).
std::string_view choose_alpn(const unsigned char* list, std::size_t size, bool h2_allowed) noexcept;

// The ALPN select callback every server context gets (SSL_CTX_set_alpn_select_cb).
int select_alpn(SSL* ssl,
                const unsigned char** out,
                unsigned char* out_size,
                const unsigned char* in,
                unsigned int in_size,
                void* arg);

// Installs select_alpn on a server context.
void offer_alpn(SSL_CTX* ctx);

}  // namespace zmproxy::tls

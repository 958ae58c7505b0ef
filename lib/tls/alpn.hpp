#pragma once
// ALPN on the server contexts (RFC 7301). A connection says before its
// handshake what it speaks (expect_alpn): the web listeners "h2" (where
// allowed) or "http/1.1" (or "http/1.0"), IMAPS "imap", POP3S "pop3". A
// client whose list offers none of those is refused with the
// no_application_protocol alert, as nginx does: the ALPACA cross-protocol
// attacks (a browser's HTTPS request sent to IMAPS, a mail client's
// session to HTTPS) end at the handshake. A client that offers no list is
// unaffected. The client's list is hostile bytes: every length is checked
// before use.

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

// What a connection speaks, for the ALPN answer.
enum class AlpnRole { web, web_h2, imap, pop3 };
// Before the handshake. allow_h2 (tls_context.hpp) is expect_alpn(web_h2).
// A connection not marked answers as choose_alpn without h2, and never
// refuses.
void expect_alpn(SSL* ssl, AlpnRole role);

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

#pragma once
// TEMPORARY (replaced by the ALPN of lib/tls/tls_context.hpp at merge).
#include <openssl/ssl.h>
namespace zmproxy::tls {
void install_alpn(SSL_CTX* ctx);
void allow_h2(SSL* ssl);
bool negotiated_h2(const SSL* ssl);
}  // namespace zmproxy::tls

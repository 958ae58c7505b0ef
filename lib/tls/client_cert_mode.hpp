#pragma once
// The client-certificate mode a server context was built with
// (http.client_cert_mode, or a domain's for its virtual host), kept on the
// SSL_CTX: after the handshake, the mode of the context SNI chose is read
// from the connection. No Asio: lib/proxy/http/client_cert.cpp uses it.

#include <openssl/ssl.h>

#include <string_view>

namespace zmproxy::tls {

// `mode` is "on", "optional" or anything else (off).
void mark_client_cert_mode(SSL_CTX* ctx, std::string_view mode);
// "off", "on" or "optional": the mark of the connection's current context;
// "off" when it has none.
std::string_view client_cert_mode(const SSL* ssl);

}  // namespace zmproxy::tls

#pragma once
// TLS contexts from the configuration: the server side (certificate, key,
// protocols, ciphers) and the client side for mailbox servers. Includes Asio's
// SSL headers: use it only in TUs that do I/O.

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "lib/core/result.hpp"
#include "lib/config/proxy_config.hpp"

namespace zmproxy::tls {

using Context = boost::asio::ssl::context;

// Errors name the file or setting to fix ("tls.certificate: cannot read ...",
// "certificate and key do not match").
Result<std::shared_ptr<Context>> make_server_context(const config::ProxyConfig& cfg);
// The same with client certificates asked for (http.client_cert_mode on or
// optional) and verified against http.client_cert_ca to
// http.client_cert_depth, on the default context and every virtual host's
// (a connection switched by SNI verifies against the same CA). The
// handshake does not fail over a certificate: the verdict is read after it
// (lib/proxy/http/client_cert.hpp), as nginx does, so the client gets an
// HTTP answer. Used by the HTTPS and certauth listeners only.
Result<std::shared_ptr<Context>> make_client_cert_context(const config::ProxyConfig& cfg);
// The client side (mailbox servers): make_upstream_context in
// lib/tls/upstream_verify.hpp.

// ALPN (lib/tls/alpn.hpp): every server context above answers "h2" to a
// connection marked by allow_h2 whose client offers it, else "http/1.1" when
// offered; a client offering neither is refused (expect_alpn, alpn.hpp, has
// the mail listeners' roles). allow_h2 goes before the handshake;
// negotiated_h2 after it says whether ALPN chose "h2".
void allow_h2(SSL* ssl);
bool negotiated_h2(const SSL* ssl);

}  // namespace zmproxy::tls

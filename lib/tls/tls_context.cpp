#include "lib/tls/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/core/strings.hpp"

namespace zmproxy::tls {

namespace {

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  if (e == 0) {
    return "unknown OpenSSL error";
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

int protocol_version(std::string_view name) {
  if (core::iequals(name, "TLSv1")) return TLS1_VERSION;
  if (core::iequals(name, "TLSv1.1")) return TLS1_1_VERSION;
  if (core::iequals(name, "TLSv1.2")) return TLS1_2_VERSION;
  if (core::iequals(name, "TLSv1.3")) return TLS1_3_VERSION;
  return 0;
}

}  // namespace

Result<std::shared_ptr<Context>> make_server_context(const server::ProxyConfig& cfg) {
  auto ctx = std::make_shared<Context>(Context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  int lo = 0;
  int hi = 0;
  for (const std::string& p : cfg.tls.protocols) {
    const int v = protocol_version(p);
    if (v == 0) {
      return fail(Errc::invalid_argument, "tls.protocols: unknown protocol '" + p +
                                              "'; use TLSv1.2 and/or TLSv1.3 (zimbraReverseProxySSLProtocols)");
    }
    lo = lo == 0 ? v : std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo != 0) {
    SSL_CTX_set_min_proto_version(native, lo);
    SSL_CTX_set_max_proto_version(native, hi);
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  if (!cfg.tls.ciphers.empty() && SSL_CTX_set_cipher_list(native, cfg.tls.ciphers.c_str()) != 1) {
    return fail(Errc::invalid_argument, "tls.ciphers: no usable cipher in '" + cfg.tls.ciphers +
                                            "' (zimbraReverseProxySSLCiphers): " + openssl_error());
  }
  const std::string cert = cfg.path(cfg.tls.certificate).string();
  const std::string key = cfg.path(cfg.tls.key).string();
  if (SSL_CTX_use_certificate_chain_file(native, cert.c_str()) != 1) {
    return fail(Errc::invalid_argument, "tls.certificate: cannot load " + cert + ": " + openssl_error());
  }
  if (SSL_CTX_use_PrivateKey_file(native, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail(Errc::invalid_argument, "tls.key: cannot load " + key + ": " + openssl_error());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail(Errc::invalid_argument,
                "tls.key: " + key + " does not match the certificate " + cert + "; install the pair together");
  }
  return ctx;
}

std::shared_ptr<Context> make_client_context() {
  auto ctx = std::make_shared<Context>(Context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  ctx->set_verify_mode(boost::asio::ssl::verify_none);
  return ctx;
}

}  // namespace zmproxy::tls

#include "lib/tls/tls_context.hpp"

#include "lib/tls/alpn.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

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

namespace {

Result<void> configure(SSL_CTX* native, const config::ProxyConfig& cfg) {
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
  offer_alpn(native);
  if (!cfg.tls.ciphers.empty() && SSL_CTX_set_cipher_list(native, cfg.tls.ciphers.c_str()) != 1) {
    return fail(Errc::invalid_argument, "tls.ciphers: no usable cipher in '" + cfg.tls.ciphers +
                                            "' (zimbraReverseProxySSLCiphers): " + openssl_error());
  }
  return {};
}

Result<void> load_pair(SSL_CTX* native, const std::string& cert, const std::string& key, const std::string& what) {
  if (SSL_CTX_use_certificate_chain_file(native, cert.c_str()) != 1) {
    return fail(Errc::invalid_argument, what + "certificate: cannot load " + cert + ": " + openssl_error());
  }
  if (SSL_CTX_use_PrivateKey_file(native, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return fail(Errc::invalid_argument,
                  what + "key: " + key + " does not match the certificate " + cert + "; install the pair together");
    }
    return fail(Errc::invalid_argument, what + "key: cannot load " + key + ": " + openssl_error());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail(Errc::invalid_argument,
                what + "key: " + key + " does not match the certificate " + cert + "; install the pair together");
  }
  return {};
}

// The default context plus one per virtual host name; the SNI callback
// switches a connection to its host's context.
struct ServerContexts {
  Context main{Context::tls_server};
  std::vector<std::pair<std::string, std::shared_ptr<Context>>> by_name;  // lower-case names
};

int select_by_name(SSL* ssl, int*, void* arg) {
  const auto* self = static_cast<const ServerContexts*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) {
    return SSL_TLSEXT_ERR_OK;
  }
  for (const auto& [host, ctx] : self->by_name) {
    if (core::iequals(host, name)) {
      SSL_set_SSL_CTX(ssl, ctx->native_handle());
      break;
    }
  }
  return SSL_TLSEXT_ERR_OK;
}


// Accept the handshake whatever the verification found; SSL_get_verify_result
// keeps the verdict.
int accept_and_remember(int, X509_STORE_CTX*) {
  return 1;
}

Result<void> ask_client_certificates(SSL_CTX* native, const config::ProxyConfig& cfg) {
  const std::string ca = cfg.path(cfg.http.client_cert_ca).string();
  if (SSL_CTX_load_verify_locations(native, ca.c_str(), nullptr) != 1) {
    return fail(Errc::invalid_argument, "http.client_cert_ca: cannot load " + ca + ": " + openssl_error() +
                                            " (zimbraReverseProxyClientCertCA: PEM CA certificates)");
  }
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str());
  if (names == nullptr) {
    return fail(Errc::invalid_argument, "http.client_cert_ca: no CA certificate in " + ca +
                                            " (zimbraReverseProxyClientCertCA: PEM CA certificates)");
  }
  SSL_CTX_set_client_CA_list(native, names);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, accept_and_remember);
  SSL_CTX_set_verify_depth(native, cfg.http.client_cert_depth);
  static const unsigned char k_session_context[] = "zmproxy-client-cert";
  SSL_CTX_set_session_id_context(native, k_session_context, sizeof k_session_context - 1);
  return {};
}

Result<std::shared_ptr<Context>> make_contexts(const config::ProxyConfig& cfg, bool client_certs) {
  auto all = std::make_shared<ServerContexts>();
  SSL_CTX* native = all->main.native_handle();
  if (client_certs) {
    ZMPROXY_TRY(ask_client_certificates(native, cfg));
  }
  if (auto r = configure(native, cfg); !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = load_pair(native, cfg.path(cfg.tls.certificate).string(), cfg.path(cfg.tls.key).string(), "tls.");
      !r) {
    return tl::unexpected(r.error());
  }
  for (const std::string& entry : cfg.tls.domain_certificates) {
    const auto words = core::split(std::string(core::trim(entry)), ' ');
    if (words.size() != 3) {
      continue;  // the configuration parser refuses these
    }
    auto ctx = std::make_shared<Context>(Context::tls_server);
    if (client_certs) {
      ZMPROXY_TRY(ask_client_certificates(ctx->native_handle(), cfg));
    }
    if (auto r = configure(ctx->native_handle(), cfg); !r) {
      return tl::unexpected(r.error());
    }
    if (auto r = load_pair(ctx->native_handle(), cfg.path(words[1]).string(), cfg.path(words[2]).string(),
                           "tls.domain_certificates (" + words[0] + "): ");
        !r) {
      return tl::unexpected(r.error());
    }
    all->by_name.emplace_back(words[0], std::move(ctx));
  }
  if (!all->by_name.empty()) {
    SSL_CTX_set_tlsext_servername_callback(native, select_by_name);
    SSL_CTX_set_tlsext_servername_arg(native, all.get());
  }
  return std::shared_ptr<Context>(all, &all->main);
}

}  // namespace

Result<std::shared_ptr<Context>> make_server_context(const config::ProxyConfig& cfg) {
  return make_contexts(cfg, false);
}

Result<std::shared_ptr<Context>> make_client_cert_context(const config::ProxyConfig& cfg) {
  return make_contexts(cfg, true);
}

}  // namespace zmproxy::tls

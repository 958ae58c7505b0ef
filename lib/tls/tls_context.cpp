#include "lib/tls/tls_context.hpp"

#include "lib/tls/alpn.hpp"
#include "lib/tls/client_cert_mode.hpp"
#include "lib/tls/ktls.hpp"
#include "lib/config/domain_client_certs.hpp"

#include <algorithm>

#include <openssl/err.h>
#include <openssl/evp.h>
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
  set_ktls(native, cfg.tls.ktls);
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

// The default context plus one per virtual host name; the ClientHello
// callback switches a connection to its host's context before OpenSSL looks
// at a session to resume, so a session is resumed only on the context
// (certificate, client-certificate mode and CA) it was made on.
struct ServerContexts {
  Context main{Context::tls_server};
  std::vector<std::pair<std::string, std::shared_ptr<Context>>> by_name;  // lower-case names
};

// The host name of a ClientHello's server_name extension (RFC 6066 §3:
// a 2-byte list length, then type 0, a 2-byte length and the name); "" when
// absent or malformed (OpenSSL refuses a malformed one itself).
std::string_view sni_of(SSL* ssl) {
  const unsigned char* p = nullptr;
  std::size_t size = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &size) != 1 || size < 5) {
    return {};
  }
  const std::size_t list = (std::size_t{p[0]} << 8) | p[1];
  if (list != size - 2 || p[2] != TLSEXT_NAMETYPE_host_name) {
    return {};
  }
  const std::size_t n = (std::size_t{p[3]} << 8) | p[4];
  if (n == 0 || n > size - 5) {
    return {};
  }
  return {reinterpret_cast<const char*>(p + 5), n};
}

// The connection takes the context's certificate, CA and verify settings
// (SSL_set_SSL_CTX changes the certificate and the session-id context only).
void adopt(SSL* ssl, SSL_CTX* ctx) {
  SSL_set_SSL_CTX(ssl, ctx);
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
  SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));
}

int select_by_name(SSL* ssl, int*, void* arg) {
  const auto* self = static_cast<const ServerContexts*>(arg);
  const std::string_view name = sni_of(ssl);
  if (name.empty()) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }
  for (const auto& [host, ctx] : self->by_name) {
    if (core::iequals(host, name)) {
      adopt(ssl, ctx->native_handle());
      break;
    }
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

// The switch is made from the ClientHello; this only acknowledges the name.
int acknowledge_name(SSL*, int*, void*) {
  return SSL_TLSEXT_ERR_OK;
}

// Accept the handshake whatever the verification found; SSL_get_verify_result
// keeps the verdict.
int accept_and_remember(int, X509_STORE_CTX*) {
  return 1;
}

// What a context asks of clients: a mode and the CA file (relative to the home).
struct ClientCertAsk {
  std::string mode = "off";
  std::string ca;
};

// A session-id context per (host, mode, CA): a session made where one CA
// verified the client is never resumed where another (or none) is asked for.
void set_session_context(SSL_CTX* native, std::string_view host, const ClientCertAsk& ask) {
  const std::string id = std::string(host) + '\n' + ask.mode + '\n' + ask.ca;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(id.data(), id.size(), digest, &size, EVP_sha256(), nullptr);
  SSL_CTX_set_session_id_context(native, digest, std::min<unsigned int>(size, SSL_MAX_SID_CTX_LENGTH));
}

Result<void> ask_client_certificates(SSL_CTX* native, const config::ProxyConfig& cfg, std::string_view host,
                                     const ClientCertAsk& ask) {
  mark_client_cert_mode(native, ask.mode);
  set_session_context(native, host, ask);
  if (ask.mode == "off") {
    return {};
  }
  const std::string ca = cfg.path(ask.ca).string();
  const std::string key = host.empty() ? "http.client_cert_ca" : "http.domain_client_certs (" + std::string(host) + ")";
  if (SSL_CTX_load_verify_locations(native, ca.c_str(), nullptr) != 1) {
    return fail(Errc::invalid_argument, key + ": cannot load " + ca + ": " + openssl_error() +
                                            " (zimbraReverseProxyClientCertCA: PEM CA certificates)");
  }
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str());
  if (names == nullptr) {
    return fail(Errc::invalid_argument, key + ": no CA certificate in " + ca +
                                            " (zimbraReverseProxyClientCertCA: PEM CA certificates)");
  }
  SSL_CTX_set_client_CA_list(native, names);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, accept_and_remember);
  SSL_CTX_set_verify_depth(native, cfg.http.client_cert_depth);
  return {};
}

// The mode and CA for `host` ("" = the default context): its domain's
// entry of http.domain_client_certs, else the global ones.
ClientCertAsk ask_for(const config::ProxyConfig& cfg, const std::vector<config::DomainClientCert>& domains,
                      std::string_view host) {
  ClientCertAsk ask{cfg.http.client_cert_mode, cfg.http.client_cert_ca};
  for (const config::DomainClientCert& d : domains) {
    if (!host.empty() && core::iequals(d.host, host)) {
      ask.mode = d.mode;
      if (!d.ca.empty()) {
        ask.ca = d.ca;
      }
    }
  }
  return ask;
}

// One virtual host's context: its own certificate, or the default one (a
// domain with client-certificate settings but no certificate of its own).
Result<std::shared_ptr<Context>> make_host_context(const config::ProxyConfig& cfg,
                                                   const std::vector<config::DomainClientCert>* domains,
                                                   const std::string& host, const std::string& cert,
                                                   const std::string& key, const std::string& what) {
  auto ctx = std::make_shared<Context>(Context::tls_server);
  if (domains != nullptr) {
    ZMPROXY_TRY(ask_client_certificates(ctx->native_handle(), cfg, host, ask_for(cfg, *domains, host)));
  }
  ZMPROXY_TRY(configure(ctx->native_handle(), cfg));
  ZMPROXY_TRY(load_pair(ctx->native_handle(), cfg.path(cert).string(), cfg.path(key).string(), what));
  return ctx;
}

Result<std::shared_ptr<Context>> make_contexts(const config::ProxyConfig& cfg, bool client_certs) {
  auto all = std::make_shared<ServerContexts>();
  SSL_CTX* native = all->main.native_handle();
  const std::vector<config::DomainClientCert> domains =
      client_certs ? config::domain_client_certs(cfg.http) : std::vector<config::DomainClientCert>{};
  const auto* asks = client_certs ? &domains : nullptr;
  if (client_certs) {
    ZMPROXY_TRY(ask_client_certificates(native, cfg, "", ask_for(cfg, domains, "")));
  }
  ZMPROXY_TRY(configure(native, cfg));
  ZMPROXY_TRY(load_pair(native, cfg.path(cfg.tls.certificate).string(), cfg.path(cfg.tls.key).string(), "tls."));
  for (const std::string& entry : cfg.tls.domain_certificates) {
    const auto words = core::split(std::string(core::trim(entry)), ' ');
    if (words.size() != 3) {
      continue;  // the configuration parser refuses these
    }
    auto ctx = make_host_context(cfg, asks, words[0], words[1], words[2],
                                 "tls.domain_certificates (" + words[0] + "): ");
    if (!ctx) {
      return tl::unexpected(ctx.error());
    }
    all->by_name.emplace_back(words[0], std::move(*ctx));
  }
  for (const config::DomainClientCert& d : domains) {
    const bool has_own = std::any_of(all->by_name.begin(), all->by_name.end(),
                                     [&](const auto& named) { return core::iequals(named.first, d.host); });
    if (has_own) {
      continue;
    }
    auto ctx = make_host_context(cfg, asks, d.host, cfg.tls.certificate, cfg.tls.key, "tls.");
    if (!ctx) {
      return tl::unexpected(ctx.error());
    }
    all->by_name.emplace_back(d.host, std::move(*ctx));
  }
  if (!all->by_name.empty()) {
    SSL_CTX_set_client_hello_cb(native, select_by_name, all.get());
    SSL_CTX_set_tlsext_servername_callback(native, acknowledge_name);
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

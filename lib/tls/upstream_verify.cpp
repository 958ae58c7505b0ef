#include "lib/tls/upstream_verify.hpp"

#include "lib/tls/ktls.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <arpa/inet.h>
#include <array>

namespace zmproxy::tls {

Result<std::shared_ptr<Context>> make_upstream_context(const config::ProxyConfig& cfg) {
  auto ctx = std::make_shared<Context>(Context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  set_ktls(native, cfg.tls.ktls);
  if (cfg.upstream.allow_untrusted_certs) {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  ERR_clear_error();
  if (cfg.upstream.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(native) != 1) {
      ERR_clear_error();
      return fail(
          Errc::invalid_argument,
          "upstream.ca_file: the system CA store cannot be loaded; set zmproxy_upstream_ca_file "
          "(zmlocalconfig -e zmproxy_upstream_ca_file=/path/to/ca.pem)");
    }
    return ctx;
  }
  const std::string file = cfg.path(cfg.upstream.ca_file).string();
  if (SSL_CTX_load_verify_locations(native, file.c_str(), nullptr) != 1) {
    char buf[256] = "no certificate in the file";
    if (const unsigned long e = ERR_get_error(); e != 0) {
      ERR_error_string_n(e, buf, sizeof buf);
    }
    ERR_clear_error();
    return fail(Errc::invalid_argument,
                "upstream.ca_file: cannot load the CA bundle " + file + ": " + buf +
                    "; fix zmproxy_upstream_ca_file (a PEM file of CA certificates)");
  }
  return ctx;
}

bool expect_upstream(SSL* ssl, const std::string& host, bool verify) {
  if (ssl == nullptr) {
    return false;
  }
  const bool address = is_ip_literal(host);
  if (!address && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    return false;
  }
  if (!verify) {
    return true;
  }
  if (address) {
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, host.c_str()) == 1;
}

std::string certificate_failure(SSL* ssl) {
  if (ssl == nullptr) {
    return {};
  }
  const long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) {
    return {};
  }
  return X509_verify_cert_error_string(result);
}

bool is_ip_literal(std::string_view host) noexcept {
  if (host.empty() || host.size() > 64) {
    return false;
  }
  std::array<char, 65> text{};
  host.copy(text.data(), host.size());
  std::array<unsigned char, 16> out{};
  return inet_pton(AF_INET, text.data(), out.data()) == 1 ||
         inet_pton(AF_INET6, text.data(), out.data()) == 1;
}

std::string untrusted_upstream_message(std::string_view upstream,
                                       std::string_view why,
                                       std::string_view ca_file) {
  std::string line = "the mailbox server ";
  line += upstream;
  line += " has a TLS certificate the proxy does not trust (";
  line += why;
  line += "), so nothing was sent to it; ";
  if (ca_file.empty()) {
    line +=
        "put the CA that issued it in a PEM file and set zmlocalconfig -e "
        "zmproxy_upstream_ca_file=<file>";
  } else {
    line += "add the CA that issued it to ";
    line += ca_file;
    line += " (zmproxy_upstream_ca_file)";
  }
  line +=
      ", or reissue it for this name; for a lab only, zmlocalconfig -e "
      "ssl_allow_untrusted_certs=true";
  return line;
}

}  // namespace zmproxy::tls

#pragma once
// Throwaway keys and certificates for TLS unit tests (P-256, one day), written
// as PEM files, and an in-memory handshake over a BIO pair.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace zmproxy::test {

struct KeyAndCert {
  std::shared_ptr<EVP_PKEY> key;
  std::shared_ptr<X509> cert;
};

inline void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) {
    throw std::runtime_error("X509V3_EXT_conf_nid");
  }
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `cn`, signed by `issuer` (self-signed when null); `ca`
// makes it a CA.
inline KeyAndCert make_cert(const std::string& cn, const KeyAndCert* issuer = nullptr, bool ca = false) {
  static long serial = 1;
  KeyAndCert out;
  out.key.reset(EVP_EC_gen("P-256"), EVP_PKEY_free);
  out.cert.reset(X509_new(), X509_free);
  X509* c = out.cert.get();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
  X509_gmtime_adj(X509_getm_notBefore(c), -60);
  X509_gmtime_adj(X509_getm_notAfter(c), 86400);
  X509_set_pubkey(c, out.key.get());
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                             -1, 0);
  X509* issuer_cert = issuer ? issuer->cert.get() : c;
  X509_set_issuer_name(c, X509_get_subject_name(issuer_cert));
  add_extension(c, issuer_cert, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (!ca) {
    add_extension(c, issuer_cert, NID_subject_alt_name, ("DNS:" + cn).c_str());
  }
  if (X509_sign(c, issuer ? issuer->key.get() : out.key.get(), EVP_sha256()) == 0) {
    throw std::runtime_error("X509_sign");
  }
  return out;
}

inline void write_pem(const KeyAndCert& kc, const std::filesystem::path& crt, const std::filesystem::path& key) {
  std::unique_ptr<FILE, decltype(&std::fclose)> c(std::fopen(crt.c_str(), "w"), &std::fclose);
  std::unique_ptr<FILE, decltype(&std::fclose)> k(std::fopen(key.c_str(), "w"), &std::fclose);
  if (!c || !k || PEM_write_X509(c.get(), kc.cert.get()) != 1 ||
      PEM_write_PrivateKey(k.get(), kc.key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw std::runtime_error("cannot write " + crt.string());
  }
}

// A client and a server SSL joined by a BIO pair.
struct Handshake {
  std::unique_ptr<SSL, decltype(&SSL_free)> client{nullptr, &SSL_free};
  std::unique_ptr<SSL, decltype(&SSL_free)> server{nullptr, &SSL_free};

  Handshake(SSL_CTX* client_ctx, SSL_CTX* server_ctx) {
    client.reset(SSL_new(client_ctx));
    server.reset(SSL_new(server_ctx));
    BIO* a = nullptr;
    BIO* b = nullptr;
    BIO_new_bio_pair(&a, 0, &b, 0);
    SSL_set_bio(client.get(), a, a);
    SSL_set_bio(server.get(), b, b);
    SSL_set_connect_state(client.get());
    SSL_set_accept_state(server.get());
  }

  // Both sides until both are done or one fails (bounded); true: done.
  bool run() {
    bool client_done = false;
    bool server_done = false;
    for (int round = 0; round < 100 && !(client_done && server_done); ++round) {
      if (!client_done && !step(client.get(), client_done)) {
        return false;
      }
      if (!server_done && !step(server.get(), server_done)) {
        return false;
      }
    }
    return client_done && server_done;
  }

 private:
  static bool step(SSL* ssl, bool& done) {
    const int r = SSL_do_handshake(ssl);
    if (r == 1) {
      done = true;
      return true;
    }
    const int e = SSL_get_error(ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
  }
};

}  // namespace zmproxy::test

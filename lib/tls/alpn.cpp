#include "lib/tls/alpn.hpp"

#include <cstring>

namespace zmproxy::tls {
namespace {
int index() {
  static const int i = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return i;
}
int select(SSL* ssl,
           const unsigned char** out,
           unsigned char* outlen,
           const unsigned char* in,
           unsigned int inlen,
           void*) {
  const bool h2 = SSL_get_ex_data(ssl, index()) != nullptr;
  for (unsigned int i = 0; i < inlen;) {
    const unsigned int n = in[i];
    if (i + 1 + n > inlen) {
      break;
    }
    if (h2 && n == 2 && std::memcmp(in + i + 1, "h2", 2) == 0) {
      *out = in + i + 1;
      *outlen = 2;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  for (unsigned int i = 0; i < inlen;) {
    const unsigned int n = in[i];
    if (i + 1 + n > inlen) {
      break;
    }
    if (n == 8 && std::memcmp(in + i + 1, "http/1.1", 8) == 0) {
      *out = in + i + 1;
      *outlen = 8;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_NOACK;
}
}  // namespace
void install_alpn(SSL_CTX* ctx) {
  SSL_CTX_set_alpn_select_cb(ctx, select, nullptr);
}
void allow_h2(SSL* ssl) {
  SSL_set_ex_data(ssl, index(), reinterpret_cast<void*>(1));
}
bool negotiated_h2(const SSL* ssl) {
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl, &p, &n);
  return n == 2 && std::memcmp(p, "h2", 2) == 0;
}
}  // namespace zmproxy::tls

#include "lib/tls/client_cert_mode.hpp"

namespace zmproxy::tls {

namespace {

constexpr std::string_view k_on = "on";
constexpr std::string_view k_optional = "optional";
constexpr std::string_view k_off = "off";

// The SSL_CTX ex_data slot (allocated once, thread-safe); it points at one
// of the constants above, never owned.
int mode_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

void mark_client_cert_mode(SSL_CTX* ctx, std::string_view mode) {
  const std::string_view* mark = mode == k_on ? &k_on : mode == k_optional ? &k_optional : &k_off;
  SSL_CTX_set_ex_data(ctx, mode_index(), const_cast<std::string_view*>(mark));
}

std::string_view client_cert_mode(const SSL* ssl) {
  const SSL_CTX* ctx = ssl != nullptr ? SSL_get_SSL_CTX(ssl) : nullptr;
  const void* mark = ctx != nullptr ? SSL_CTX_get_ex_data(ctx, mode_index()) : nullptr;
  return mark != nullptr ? *static_cast<const std::string_view*>(mark) : k_off;
}

}  // namespace zmproxy::tls

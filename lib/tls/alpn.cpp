#include "lib/tls/alpn.hpp"

#include "lib/tls/tls_context.hpp"

namespace zmproxy::tls {

namespace {

constexpr std::string_view k_h2 = "h2";
constexpr std::string_view k_http11 = "http/1.1";

// The SSL ex_data slot of expect_alpn's mark (allocated once, thread-safe).
int h2_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Whether `list` is well formed: at least one entry, none empty, none past the end.
bool well_formed(const unsigned char* list, std::size_t size) noexcept {
  if (list == nullptr || size == 0) {
    return false;
  }
  std::size_t at = 0;
  while (at < size) {
    const std::size_t n = list[at];
    if (n == 0 || n > size - at - 1) {
      return false;
    }
    at += 1 + n;
  }
  return true;
}

// The entry equal to `want` in a well-formed list, or "".
std::string_view find_entry(const unsigned char* list, std::size_t size, std::string_view want) noexcept {
  for (std::size_t at = 0; at < size; at += 1 + list[at]) {
    const std::string_view entry(reinterpret_cast<const char*>(list + at + 1), list[at]);
    if (entry == want) {
      return entry;
    }
  }
  return {};
}

}  // namespace

std::string_view choose_alpn(const unsigned char* list, std::size_t size, bool h2_allowed) noexcept {
  if (!well_formed(list, size)) {
    return {};
  }
  if (h2_allowed) {
    if (const std::string_view h2 = find_entry(list, size, k_h2); !h2.empty()) {
      return h2;
    }
  }
  return find_entry(list, size, k_http11);
}

int select_alpn(SSL* ssl,
                const unsigned char** out,
                unsigned char* out_size,
                const unsigned char* in,
                unsigned int in_size,
                void*) {
  const auto* role =
      ssl != nullptr ? static_cast<const AlpnRole*>(SSL_get_ex_data(ssl, h2_index())) : nullptr;
  std::string_view chosen;
  if (role == nullptr) {
    chosen = choose_alpn(in, in_size, false);
    if (chosen.empty()) {
      return SSL_TLSEXT_ERR_NOACK;
    }
  } else if (*role == AlpnRole::imap || *role == AlpnRole::pop3) {
    if (well_formed(in, in_size)) {
      chosen = find_entry(in, in_size, *role == AlpnRole::imap ? "imap" : "pop3");
    }
  } else {
    chosen = choose_alpn(in, in_size, *role == AlpnRole::web_h2);
    if (chosen.empty() && well_formed(in, in_size)) {
      chosen = find_entry(in, in_size, "http/1.0");
    }
  }
  if (chosen.empty()) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol
  }
  *out = reinterpret_cast<const unsigned char*>(chosen.data());
  *out_size = static_cast<unsigned char>(chosen.size());
  return SSL_TLSEXT_ERR_OK;
}

void offer_alpn(SSL_CTX* ctx) {
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
}

void expect_alpn(SSL* ssl, AlpnRole role) {
  // Points at a constant: nothing is owned.
  static constexpr AlpnRole k_roles[] = {AlpnRole::web, AlpnRole::web_h2, AlpnRole::imap,
                                         AlpnRole::pop3};
  SSL_set_ex_data(ssl, h2_index(), const_cast<AlpnRole*>(&k_roles[static_cast<int>(role)]));
}

void allow_h2(SSL* ssl) {
  expect_alpn(ssl, AlpnRole::web_h2);
}

bool negotiated_h2(const SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(ssl, &data, &size);
  return data != nullptr && std::string_view(reinterpret_cast<const char*>(data), size) == k_h2;
}

}  // namespace zmproxy::tls

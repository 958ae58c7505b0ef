#include "lib/route/route_seal.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace zmproxy::route {

namespace {

std::string mac_hex(std::string_view key, std::string_view value, std::string_view secret) {
  std::string message;
  message.reserve(key.size() + 1 + value.size());
  message.append(key).append(1, '\n').append(value);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (::HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac,
             &length) == nullptr) {
    return {};
  }
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += k_hex[mac[i] >> 4];
    out += k_hex[mac[i] & 0x0f];
  }
  return out;
}

}  // namespace

std::string seal_route_value(std::string_view key, std::string_view value, std::string_view secret) {
  return std::string(value) + std::string(k_seal_marker) + mac_hex(key, value, secret);
}

OpenedRouteValue open_route_value(std::string_view key, std::string_view stored,
                                  std::string_view secret) {
  OpenedRouteValue out;
  const auto at = stored.find(k_seal_marker);
  if (at == std::string_view::npos) {
    out.value = stored;
    return out;
  }
  out.value = stored.substr(0, at);
  out.sealed = true;
  const std::string_view given = stored.substr(at + k_seal_marker.size());
  if (secret.empty()) {
    return out;
  }
  const std::string expected = mac_hex(key, out.value, secret);
  out.verified = !expected.empty() && given.size() == expected.size() &&
                 CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
  return out;
}

}  // namespace zmproxy::route

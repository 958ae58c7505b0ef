#include "lib/route/lookup_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>

namespace zmproxy::route {

namespace {

std::string mac_hex(std::string_view user, std::string_view expiry, std::string_view secret) {
  std::string message;
  message.reserve(user.size() + 1 + expiry.size());
  message.append(user).append(1, '|').append(expiry);
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

std::string mint_lookup_token(std::string_view user, std::int64_t expiry, std::string_view secret) {
  if (secret.empty()) {
    return {};
  }
  const std::string e = std::to_string(expiry);
  const std::string mac = mac_hex(user, e, secret);
  if (mac.empty()) {
    return {};
  }
  return std::string(k_lookup_token_prefix) + e + ":" + mac;
}

bool verify_lookup_token(std::string_view token,
                         std::string_view user,
                         std::int64_t now,
                         std::string_view secret) {
  if (secret.empty() || token.substr(0, k_lookup_token_prefix.size()) != k_lookup_token_prefix) {
    return false;
  }
  token.remove_prefix(k_lookup_token_prefix.size());
  const auto colon = token.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 19) {
    return false;
  }
  const std::string_view e = token.substr(0, colon);
  std::int64_t expiry = 0;
  const auto [p, ec] = std::from_chars(e.data(), e.data() + e.size(), expiry);
  if (ec != std::errc() || p != e.data() + e.size() || e.front() == '-' || expiry < now) {
    return false;
  }
  const std::string_view given = token.substr(colon + 1);
  const std::string expected = mac_hex(user, e, secret);
  return !expected.empty() && given.size() == expected.size() &&
         CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

}  // namespace zmproxy::route

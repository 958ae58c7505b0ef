#include "lib/route/lookup_token.hpp"

#include "lib/net/hmac_hex.hpp"

#include <charconv>

namespace zmproxy::route {

namespace {

// The signed message: the two parts joined by '|'.
std::string signed_message(std::string_view a, std::string_view b) {
  std::string message;
  message.reserve(a.size() + 1 + b.size());
  message.append(a).append(1, '|').append(b);
  return message;
}

}  // namespace

std::string mint_lookup_token(std::string_view user, std::int64_t expiry, std::string_view secret) {
  if (secret.empty()) {
    return {};
  }
  const std::string e = std::to_string(expiry);
  const std::string mac = net::hmac_sha256_hex(secret, signed_message(user, e));
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
  return net::hmac_sha256_hex_matches(given, secret, signed_message(user, e));
}

}  // namespace zmproxy::route

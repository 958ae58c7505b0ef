#include "lib/route/route_seal.hpp"

#include "lib/net/hmac_hex.hpp"

namespace zmproxy::route {

namespace {

// The signed message: the two parts joined by '\n'.
std::string signed_message(std::string_view a, std::string_view b) {
  std::string message;
  message.reserve(a.size() + 1 + b.size());
  message.append(a).append(1, '\n').append(b);
  return message;
}

}  // namespace

std::string seal_route_value(std::string_view key, std::string_view value, std::string_view secret) {
  return std::string(value) + std::string(k_seal_marker) +
         net::hmac_sha256_hex(secret, signed_message(key, value));
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
  out.verified = net::hmac_sha256_hex_matches(given, secret, signed_message(key, out.value));
  return out;
}

}  // namespace zmproxy::route

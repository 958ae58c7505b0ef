#pragma once
// Sealed route values: a route that names no known mailbox server (an
// external route, a server confgen does not list) is written to memcached
// with an HMAC-SHA256 made with the route secret ([route] secret, localconfig
// zmlookupd_secret) over the key and the value, so that a proxy reading it
// back can tell it from one written by someone without the secret, and a
// value copied to another user's key does not verify.
//
//   plain (Zimbra's format)  10.0.0.7:7143
//   sealed                   mail.partner.example:143;hmac=<64 lowercase hex>
//
// Routes to known servers stay plain, byte for byte what Zimbra writes, so
// Zimbra proxies sharing the memcached read them and ours read theirs.
//
// Thread affinity: none (pure functions).

#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::route {

inline constexpr std::string_view k_seal_marker = ";hmac=";

// `value` + ";hmac=" + hex(HMAC-SHA256(secret, key "\n" value)).
std::string seal_route_value(std::string_view key, std::string_view value, std::string_view secret);

struct OpenedRouteValue {
  std::string_view value;  // the route part ("host:port")
  bool sealed = false;     // it carried an HMAC
  bool verified = false;   // ... and the HMAC is right for `key` and `secret`
};
// Split a stored value. An HMAC never verifies with an empty secret.
OpenedRouteValue open_route_value(std::string_view key, std::string_view stored,
                                  std::string_view secret);

}  // namespace zmproxy::route

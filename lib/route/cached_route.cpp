#include "lib/route/cached_route.hpp"

#include "lib/core/address.hpp"
#include "lib/route/route_seal.hpp"

namespace zmproxy::route {

std::string format_route_value(const std::string& host, int port) {
  return core::format_address(host, static_cast<unsigned>(port));
}

bool parse_route_value(std::string_view value, std::string& host, int& port) {
  const core::ParsedAddress a = core::parse_address(value);
  if (!a) {
    return false;
  }
  host = a->host;
  port = a->port;
  return true;
}

std::optional<std::string> stored_route_value(std::string_view key,
                                              const std::string& host,
                                              int port,
                                              const KnownServers& known,
                                              std::string_view secret) {
  std::string value = format_route_value(host, port);
  if (known.contains(host, port)) {
    return value;
  }
  if (secret.empty()) {
    return std::nullopt;
  }
  return seal_route_value(key, value, secret);
}

CachedRoute read_cached_route(std::string_view key,
                              std::string_view stored,
                              const KnownServers& known,
                              std::string_view secret) {
  CachedRoute out;
  const OpenedRouteValue opened = open_route_value(key, stored, secret);
  if (!parse_route_value(opened.value, out.host, out.port)) {
    out.rejected = "it is not host:port";
  } else if (opened.sealed ? !opened.verified : !known.contains(out.host, out.port)) {
    out.rejected = opened.sealed ? "its HMAC does not verify with the route secret"
                                 : "it names no known mailbox server (route.mailbox_servers)";
  }
  return out;
}

}  // namespace zmproxy::route

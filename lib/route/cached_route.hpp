#pragma once
// Routes as memcached holds them: Zimbra's value "host:port" ("[v6]:port"),
// and which of them a proxy may write and believe. memcached is shared and
// unauthenticated, so a route read from it is believed only when it names a
// known mailbox server (known_servers.hpp) or carries the route secret's seal
// (route_seal.hpp). A route to a known server is written plain (Zimbra's
// format), any other sealed when there is a secret, else not at all: no
// proxy would believe it.
//
// Thread affinity: none (pure functions).

#include "lib/route/known_servers.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::route {

// Zimbra's cache value "host:port" / "[v6]:port" and back.
std::string format_route_value(const std::string& host, int port);
bool parse_route_value(std::string_view value, std::string& host, int& port);

// The value to store under `key` for a route to host:port; nullopt when it
// names no known server and there is no secret to seal it with.
std::optional<std::string> stored_route_value(std::string_view key,
                                              const std::string& host,
                                              int port,
                                              const KnownServers& known,
                                              std::string_view secret);

// A value read from `key`: the route it names, or why it is not believed.
struct CachedRoute {
  std::string host;
  int port = 0;
  const char* rejected = nullptr;  // why, when not believed (never names the value)

  bool believed() const noexcept { return rejected == nullptr; }
};
CachedRoute read_cached_route(std::string_view key,
                              std::string_view stored,
                              const KnownServers& known,
                              std::string_view secret);

}  // namespace zmproxy::route

#pragma once
// What zmproxypurge removes for an account: every route and alias key any
// proxy may have written for it — each protocol, by name, alias, alias-domain
// address, bare name in the default domain, and zimbraId — and the memcached
// servers a deployment uses. Pure over a RouteIndex.

#include <string>
#include <vector>

#include "lib/route/route_index.hpp"

namespace zmproxy::route {

// All cache keys for the account (Entry from the index).
std::vector<std::string> purge_keys(const Entry& account, const RouteIndex& index,
                                    const std::vector<std::string>& proxy_ips);

// memcached servers: zimbraMemcachedClientServerList of `server_name` (else
// global); else every server whose zimbraServiceEnabled has memcached, at its
// zimbraMemcachedBindPort.
std::vector<std::string> memcached_servers(const RouteIndex& index, const std::string& server_name);

}  // namespace zmproxy::route

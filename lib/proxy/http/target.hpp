#pragma once
// Where a web request goes: the mailbox web servers to try, in order, once
// its route key (route_extract.hpp) is known, and what the proxy says about
// the one it reached (its address, its pool, its public base URL). Pure: the
// route lookup itself is the session's (session.cpp).
//
// Thread affinity: none (pure functions).

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "lib/config/proxy_config.hpp"
#include "lib/proxy/http/route_extract.hpp"
#include "lib/route/route_resolver.hpp"

namespace zmproxy::proxy::http {

struct Target {
  std::string host;
  int port = 0;
  bool from_ip_hash = false;
  std::string domain;  // the user's domain, when the route came from a name

  // "host:port", "[v6]:port".
  std::string address() const;
  bool operator==(const Target&) const = default;
};

// An http.upstreams / admin_upstreams entry (checked when the configuration
// was read; port 80 when it names none).
Target peer_target(const std::string& entry);

// The servers to try for a request routed by IP hash, in order: the client's
// hash picks the first; then rehashes as nginx does (at most 20 tries, each
// server at most once); then any server not picked yet, in configuration
// order. Every peer appears exactly once; none when there are none.
std::vector<Target> ip_hash_targets(const std::vector<std::string>& peers, std::string_view client_ip);

// What the route lookup is asked for a request with a key (not ip_hash).
// The admin console is always https on the mailbox (zimbraAdminPort).
route::RouteQuery route_query(const RouteKey& key, bool upstream_ssl, bool admin, const std::string& client_ip,
                              const std::string& local_ip, std::string_view host_header);

// The target of a looked-up route; a route found by a user name
// ("user@domain") carries the domain in lower case.
Target routed_target(const route::Route& found, const RouteKey& key);

// How long the mailbox may take to answer a request for `path` (a query is
// ignored): http.poll_timeout, noop_timeout, waitset_timeout or read_timeout
// by read_timeout_kind.
std::chrono::milliseconds upstream_read_timeout(const config::HttpSection& h, std::string_view path);

// Kept connections to `t`: one pool per address and, with TLS, per client
// context (the SSL_CTX that verified them; null for plain connections), so a
// reload with a new CA bundle starts a new pool.
std::string upstream_pool_key(const void* client_tls, const Target& t);

// The mailbox's own base URL, as a Location naming it starts:
// "http[s]://host:port".
std::string internal_base(bool upstream_ssl, const Target& t);

// Zimbra's REST URL rules: the domain's public service (http.domain_public_services
// "domain host [protocol [port]]"), else the global one, else the scheme and
// Host the client used.
std::string public_base(const config::HttpSection& h, bool client_tls, std::string_view host_header,
                        const Target& t);

}  // namespace zmproxy::proxy::http

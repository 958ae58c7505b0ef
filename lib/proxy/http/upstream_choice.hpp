#pragma once
// Where a web request goes: the mailbox web servers to try, in order (the
// looked-up route's, else the IP hash's), and a new connection to one
// (TLS with its certificate checked when upstream.ssl). Used by the
// request loop (session.cpp, forward).
//
// Thread affinity: the connection's worker.

#include "lib/net/asio.hpp"
#include "lib/proxy/http/route_extract.hpp"
#include "lib/proxy/http/target.hpp"
#include "lib/proxy/http/upstream_pool.hpp"

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace zmproxy::proxy::http {

struct ClientConnection;

// The servers to try for `key`, in order: the looked-up route's, else (no
// key, or no route) the IP hash's over the configured peers. nullopt when
// the lookup refused the request (the user's domain may not use this
// address).
net::asio::awaitable<std::optional<std::vector<Target>>> choose_targets(ClientConnection& c,
                                                                        const RouteKey& key,
                                                                        std::string_view host);

// A new connection to `t`; null when it cannot be had.
net::asio::awaitable<std::unique_ptr<UpstreamConn>> open_upstream(ClientConnection& c,
                                                                  const Target& t);

}  // namespace zmproxy::proxy::http

#pragma once
// The awaitable entry points of RouteResolver (includes Asio: use in .cpp
// files that already do I/O).

#include <variant>

#include "lib/net/asio.hpp"
#include "lib/route/route_resolver.hpp"

namespace zmproxy::route {

using ResolveResult = std::variant<Route, RouteError>;

// Resolve on the calling coroutine's executor.
net::asio::awaitable<ResolveResult> resolve(std::shared_ptr<RouteResolver> resolver, RouteQuery query);
// invalidate() off the calling thread; resumes on the caller's executor.
net::asio::awaitable<void> invalidate(std::shared_ptr<RouteResolver> resolver, std::string user,
                                      std::string proxy_ip);

}  // namespace zmproxy::route

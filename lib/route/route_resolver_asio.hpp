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
// The mailbox refused `user`'s login, which may mean the route is stale (the
// mailbox moved): invalidate() as above, unless the route was `fresh` (the
// lookup handler's answer to this very login: asking again gives the same)
// or this user's route was already dropped for a refusal within
// ResolverSettings::refusal_interval (password guessing costs at most one
// lookup per user per interval). Whether it was dropped.
net::asio::awaitable<bool> forget_refused(std::shared_ptr<RouteResolver> resolver, std::string user,
                                          std::string proxy_ip, bool fresh);

}  // namespace zmproxy::route

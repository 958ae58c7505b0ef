#pragma once
// One POP3 client connection: the AUTHORIZATION state (CAPA, STLS, USER,
// PASS, AUTH, QUIT) served by the proxy, the route lookup, the login at the
// mailbox (with the client's address by XCLIENT or XOIP), then a byte relay.
// Runs on the accepting worker; never throws.

#include <memory>
#include <optional>

#include "lib/net/asio.hpp"
#include "lib/proxy/connection_slot.hpp"
#include "lib/proxy/generation.hpp"

namespace zmproxy::proxy::pop3 {

// `client`: the client's address (accept's, or a PROXY protocol header's),
// if known; `local`: the connection's local address, if known.
net::asio::awaitable<void> run_session(std::shared_ptr<const Generation> g, net::tcp::socket s, bool tls, ConnectionSlot slot,
                                       std::optional<net::tcp::endpoint> client = std::nullopt,
                                       std::optional<net::tcp::endpoint> local = std::nullopt);

}  // namespace zmproxy::proxy::pop3

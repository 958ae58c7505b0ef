#pragma once
// One IMAP client connection, from greeting to logout: the pre-login
// dialogue (CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, LOGIN, AUTHENTICATE),
// the route lookup, the login at the mailbox (with the client's address in
// ID), then a byte relay. Runs on the accepting worker; never throws.

#include <memory>
#include <optional>

#include "lib/net/asio.hpp"
#include "lib/proxy/connection_slot.hpp"
#include "lib/proxy/generation.hpp"

namespace zmproxy::proxy::imap {

// `client`: the client's address (accept's, or a PROXY protocol header's),
// if known; `local`: the connection's local address, if known.
net::asio::awaitable<void> run_session(std::shared_ptr<const Generation> g, net::tcp::socket s, bool tls, ConnectionSlot slot,
                                       std::optional<net::tcp::endpoint> client = std::nullopt,
                                       std::optional<net::tcp::endpoint> local = std::nullopt);

}  // namespace zmproxy::proxy::imap

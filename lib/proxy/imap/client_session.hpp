#pragma once
// One IMAP client connection, from greeting to logout: the pre-login
// dialogue (CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, LOGIN, AUTHENTICATE),
// the route lookup, the login at the mailbox (with the client's address in
// ID), then a byte relay. Runs on the accepting worker; never throws.

#include <memory>

#include "lib/net/asio.hpp"
#include "lib/proxy/connection_slot.hpp"
#include "lib/proxy/generation.hpp"

namespace zmproxy::proxy::imap {

net::asio::awaitable<void> run_session(std::shared_ptr<const Generation> g, net::tcp::socket s, bool tls, ConnectionSlot slot);

}  // namespace zmproxy::proxy::imap

#pragma once
// A PROXY protocol header (proxy_header.hpp) read off a fresh connection
// before anything else reads from it, within a deadline. The bytes are
// peeked, and only the header's are consumed: whatever the client sent
// after it (a command, a TLS ClientHello) stays in the kernel for the
// session. And the header written for Asio endpoints. Brings Asio: include
// only from .cpp files.

#include <chrono>
#include <string>
#include <string_view>

#include "lib/net/asio.hpp"

namespace zmproxy::net {

struct ProxiedPeer {
  bool ok = false;
  tcp::endpoint client;      // ok: the header's client, or the peer (LOCAL, UNKNOWN)
  bool carried = false;      // ok: `client` came from the header
  int version = 0;           // 1 or 2 when known
  std::string_view failure;  // !ok: why, a static phrase for the log line
};

// Reads the header within `timeout` (every byte counts against it: one byte
// a second gets no longer). Fails on a malformed header, a close, an error
// or the timeout; the caller closes the connection.
asio::awaitable<ProxiedPeer> read_proxy_header(tcp::socket& socket,
                                               std::chrono::milliseconds timeout);

// The version 2 header that tells a server `client` reached us at `reached`
// (sent to a mailbox: upstream.proxy_protocol).
std::string proxy_v2_header(const tcp::endpoint& client, const tcp::endpoint& reached);

}  // namespace zmproxy::net

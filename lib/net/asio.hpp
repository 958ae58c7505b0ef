#pragma once
// The one entry point to Boost.Asio (1.81) for zmproxy: include this, never
// <boost/asio.hpp> directly, so every translation unit sees the same
// configuration. Asio templates are heavy: include it only in .cpp files that
// do I/O, keep it out of headers other code includes.

#include <utility>  // before Asio: some versions use std::exchange without it

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace zmproxy::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Completion token for coroutines that inspect errors instead of throwing.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// An IPv4-mapped IPv6 address (a v4 client on a dual-stack socket) as the
// IPv4 address it is; any other address unchanged. Logs and access checks
// see 192.0.2.7, never ::ffff:192.0.2.7.
inline asio::ip::address unmapped(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

}  // namespace zmproxy::net

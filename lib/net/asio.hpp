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

}  // namespace zmproxy::net

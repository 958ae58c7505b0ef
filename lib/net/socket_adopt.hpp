#pragma once
// Sockets the kernel made non-blocking, handed to Asio without asking the
// kernel again. Asio (1.81, epoll reactor) keeps, per socket, flags saying
// what it knows of the descriptor: before a socket's first asynchronous
// operation it sets O_NONBLOCK itself (an ioctl FIONBIO) unless its flags
// say so already, and it removes from epoll (EPOLL_CTL_DEL) before closing
// any descriptor it was given rather than opened, which might be a dup.
// A descriptor from accept4 or socket with SOCK_NONBLOCK is non-blocking and
// ours alone: these functions record that in Asio's flags, so neither call
// is made (bench/syscalls; bench/RESULTS.md, issue 18). With another Asio
// than the one this was checked against they fall back to Asio's calls.
//
// Include only from translation units that do socket I/O (Asio heavy).

#include "lib/net/asio.hpp"

#include <boost/system/error_code.hpp>

namespace zmproxy::net {

// `fd` (non-blocking, close-on-exec, not shared; from accept4 or socket with
// SOCK_NONBLOCK) as a tcp::socket of `ex`: registered with the reactor, known
// non-blocking, closed without EPOLL_CTL_DEL. On failure (ec set) `fd` is
// closed.
tcp::socket adopt_socket(const asio::any_io_executor& ex, int fd, bool v6, boost::system::error_code& ec);

// Synchronous read_some/write_some on `socket` return would_block instead of
// blocking, as after socket.non_blocking(true) but without its ioctl when
// Asio already made (or was told) the descriptor non-blocking.
void set_user_non_blocking(tcp::socket& socket, boost::system::error_code& ec);

}  // namespace zmproxy::net

#pragma once
// The pieces every daemon's control socket is made of (zmproxyd's, zmconfigd's,
// zmlookupd's), so they are all made the same way:
//   - open_control_acceptor: a Unix stream socket, mode 0600 (created under
//     umask 077), a stale socket file replaced, never a file of another kind;
//   - peer_may_control: the connecting process runs as root or as this
//     daemon's own user (SO_PEERCRED);
//   - read_control_line: one command line of at most 4 KiB, within 5 s;
//   - accept failures paused with AcceptBackoff.
// Include only from .cpp files (it brings Asio).

#include "lib/core/result.hpp"
#include "lib/net/asio.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace zmproxy::net {

using local = asio::local::stream_protocol;

inline constexpr std::size_t k_control_line_max = 4096;
inline constexpr std::chrono::seconds k_control_read_deadline{5};

Result<local::acceptor> open_control_acceptor(asio::io_context& io,
                                              const std::filesystem::path& path);

bool peer_may_control(const local::socket& socket) noexcept;

// The line without its CR LF; nullopt when the peer sent none in time, sent
// more than k_control_line_max, or closed first.
asio::awaitable<std::optional<std::string>> read_control_line(local::socket& socket);

// Accept one connection from a peer allowed to control; pauses (with
// backoff) on accept failures. nullopt when the acceptor was closed.
asio::awaitable<std::optional<local::socket>> accept_controller(local::acceptor& acceptor);

}  // namespace zmproxy::net

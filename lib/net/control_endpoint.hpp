#pragma once
// A daemon's control endpoint over TCP (issue 19, fleet-wide admin): what
// zmproxyctl status --fleet, zmprov fc -a and zmproxypurge reach on every
// proxy and lookup handler the store lists. Off unless configured; a
// listener only with a secret of at least k_control_secret_min bytes.
//
// One command a connection, in the words of control_proof.hpp: a greeting
// with a fresh nonce, the client's proof and command, the reply, the close.
// Bounded: a line of at most 4 KiB, at most `max_connections` at once (more
// are closed at once, unanswered), a deadline for the client's part and one
// for the reply's write. A wrong proof, a command off the allowlist or an
// oversized line closes the connection with one line logged (never the
// secret, the proof or the command's arguments).
//
// Runs on the io_context given (zmproxyd's control thread, zmlookupd's io
// thread): the handler is the daemon's own command dispatch, awaited there.
// Include only from .cpp files (it brings Asio).

#include "lib/core/result.hpp"
#include "lib/net/asio.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace zmproxy::net {

struct ControlEndpointOptions {
  std::string component;  // the log's component ("proxy", "zmlookupd")
  std::string listen;     // "address:port"
  std::string secret;     // shared by the fleet (localconfig zmproxy_control_secret)
  bool (*allows)(std::string_view command) = nullptr;  // the allowlist
  std::string allowed_text;  // for the refusal: "STATUS, FORGET ALL or FORGET <names>"
  int max_connections = 8;
  std::size_t line_max = 4096;
  // Greeting to the client's line: the tools send it at once, so a short
  // wait keeps a peer that holds every slot from locking admins out for long.
  std::chrono::milliseconds read_deadline{3'000};
  std::chrono::milliseconds write_deadline{10'000};  // the reply
};

using ControlEndpointHandler = std::function<asio::awaitable<std::string>(std::string command)>;

class ControlEndpoint {
 public:
  // Listens on options.listen. Errors are one line naming the setting and
  // the fix (no secret, too short a secret, an address that does not parse
  // or cannot be bound); the caller logs it and goes on without a listener.
  static Result<std::unique_ptr<ControlEndpoint>> open(asio::io_context& io,
                                                       ControlEndpointOptions options,
                                                       ControlEndpointHandler handler);
  ~ControlEndpoint();  // stops accepting; open connections end at their deadline
  ControlEndpoint(const ControlEndpoint&) = delete;
  ControlEndpoint& operator=(const ControlEndpoint&) = delete;

  // "address:port" as bound.
  const std::string& address() const noexcept;

  struct Impl;

 private:
  explicit ControlEndpoint(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> m_impl;
};

}  // namespace zmproxy::net

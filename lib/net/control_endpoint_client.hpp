#pragma once
// The tools' side of a daemon's TCP control endpoint (control_endpoint.hpp):
// connect, read the greeting's nonce, send the proof and the command, read
// the reply. Blocking, for the command-line tools; the whole exchange
// (name lookup aside) within `timeout`.

#include "lib/core/result.hpp"
#include "lib/net/control_socket.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace zmproxy::net {

// The reply, parsed as the control socket's are. Errors are the transport's,
// one line each: Errc::unavailable when nothing listens or nothing answers
// in time, Errc::permission_denied when the endpoint refuses the proof (the
// secrets differ), Errc::io_error otherwise. A refused command is a reply, !ok.
Result<ControlReply> endpoint_command(const std::string& host,
                                      unsigned port,
                                      std::string_view secret,
                                      std::string_view command,
                                      std::chrono::milliseconds timeout);

}  // namespace zmproxy::net

#pragma once
// A daemon's control socket: a Unix stream socket (mode 0600) that takes one
// command line a connection and answers with the handler's reply. Served on
// the io_context given (the daemon's control thread, never a worker), so the
// handler may block briefly. control_request() is the client side, blocking,
// for the command-line tools; control_command() also parses the reply.
//
// Replies are one line: "OK <text>", "ERROR <text>", or a JSON object (the
// STATUS commands).

#include "lib/core/result.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace zmproxy::net {

class ControlSocket {
 public:
  using Handler = std::function<std::string(std::string_view command)>;

  // Binds `path` (a stale socket file is replaced). Errors name the path.
  static Result<std::unique_ptr<ControlSocket>> open(boost::asio::io_context& io,
                                                     const std::filesystem::path& path,
                                                     Handler handler);
  ~ControlSocket();  // closes and removes the socket file
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  struct Impl;

 private:
  explicit ControlSocket(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

// Send `command` and return the reply (without the trailing newline).
// Errc::unavailable when nothing listens on `path`.
Result<std::string> control_request(const std::filesystem::path& path,
                                    std::string_view command,
                                    std::chrono::milliseconds timeout);

// A reply line, parsed once.
struct ControlReply {
  bool ok = false;    // "OK" or "OK <text>"
  bool json = false;  // a JSON object (STATUS), whole in `text`
  std::string text;   // after "OK " or "ERROR "; any other line as sent
};

ControlReply parse_control_reply(std::string_view line);

// control_request() and parse_control_reply(): errors are the transport's
// (Errc::unavailable when nothing listens); a refusal is a reply, !ok.
Result<ControlReply> control_command(const std::filesystem::path& path,
                                     std::string_view command,
                                     std::chrono::milliseconds timeout);

}  // namespace zmproxy::net

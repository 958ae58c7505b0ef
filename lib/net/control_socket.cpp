#include "lib/net/control_socket.hpp"

#include <poll.h>
#include <unistd.h>

#include "lib/net/asio.hpp"
#include "lib/net/control_line.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

namespace zmproxy::net {


struct ControlSocket::Impl {
  std::filesystem::path path;
  Handler handler;
  local::acceptor acceptor;

  Impl(asio::io_context& io, std::filesystem::path p, Handler h)
      : path(std::move(p)), handler(std::move(h)), acceptor(io) {}

  // One connection at a time: a command line of at most 4 KiB within 5 s
  // (net/control_line), from root or this daemon's user, else nothing runs.
  static asio::awaitable<void> serve(Impl* self) {
    while (true) {
      auto socket = co_await net::accept_controller(self->acceptor);
      if (!socket) {
        co_return;
      }
      auto command = co_await net::read_control_line(*socket);
      if (!command) {
        continue;
      }
      std::string reply = self->handler(*command);
      reply += '\n';
      co_await asio::async_write(*socket, asio::buffer(reply), net::use_nothrow);
    }
  }
};

ControlSocket::ControlSocket(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

ControlSocket::~ControlSocket() {
  boost::system::error_code ignored;
  m_impl->acceptor.close(ignored);
  std::error_code fec;
  std::filesystem::remove(m_impl->path, fec);
}

Result<std::unique_ptr<ControlSocket>> ControlSocket::open(asio::io_context& io,
                                                           const std::filesystem::path& path,
                                                           Handler handler) {
  auto acceptor = net::open_control_acceptor(io, path);
  if (!acceptor) {
    return tl::unexpected(acceptor.error());
  }
  auto impl = std::make_unique<Impl>(io, path, std::move(handler));
  impl->acceptor = std::move(*acceptor);
  Impl* raw = impl.get();
  asio::co_spawn(io, Impl::serve(raw), asio::detached);
  return std::unique_ptr<ControlSocket>(new ControlSocket(std::move(impl)));
}

Result<std::string> control_request(const std::filesystem::path& path,
                                    std::string_view command,
                                    std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string p = path.string();
  if (p.size() >= sizeof addr.sun_path) {
    return fail(Errc::invalid_argument, "control socket path " + p + " is too long");
  }
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail(Errc::io_error, std::string("socket: ") + std::strerror(errno));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return fail(Errc::unavailable, "nothing answers on " + p + " (" + std::strerror(errno) + ")");
  }
  std::string out(command);
  out += '\n';
  std::size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return fail(Errc::io_error, "cannot send to " + p + ": " + std::strerror(errno));
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string reply;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (reply.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return fail(Errc::unavailable,
                  "no reply from " + p + " within " + std::to_string(timeout.count()) + " ms");
    }
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      break;
    }
    reply.append(buf, static_cast<std::size_t>(n));
  }
  if (const auto nl = reply.find('\n'); nl != std::string::npos) {
    reply.resize(nl);
  } else if (reply.empty()) {
    return fail(Errc::io_error, p + " closed the connection without a reply");
  }
  return reply;
}

ControlReply parse_control_reply(std::string_view line) {
  ControlReply r;
  if (line == "OK" || line.starts_with("OK ")) {
    r.ok = true;
    r.text = line.size() > 3 ? line.substr(3) : std::string_view();
  } else if (line.starts_with("ERROR ")) {
    r.text = line.substr(6);
  } else {
    r.json = line.starts_with('{');
    r.text = line;
  }
  return r;
}

Result<ControlReply> control_command(const std::filesystem::path& path,
                                     std::string_view command,
                                     std::chrono::milliseconds timeout) {
  auto line = control_request(path, command, timeout);
  if (!line) {
    return tl::unexpected(line.error());
  }
  return parse_control_reply(*line);
}

}  // namespace zmproxy::net

#include "lib/net/control_endpoint_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include "lib/core/address.hpp"
#include "lib/net/control_proof.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>

namespace zmproxy::net {

namespace {

using Clock = std::chrono::steady_clock;

// What a reply may be at most (zmproxyd's STATUS is a few KiB).
constexpr std::size_t k_reply_max = 1 << 20;

int left_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

// A non-blocking connect to any of the addresses, within the deadline.
Result<void> connect_within(Fd& sock,
                            const std::string& host,
                            unsigned port,
                            Clock::time_point deadline,
                            const std::string& where) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
      rc != 0) {
    return fail(Errc::unavailable, "cannot resolve " + host + ": " + ::gai_strerror(rc));
  }
  std::string last = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Fd s{::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol)};
    if (s.fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    if (::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = std::strerror(errno);
      continue;
    }
    pollfd p{s.fd, POLLOUT, 0};
    if (::poll(&p, 1, left_ms(deadline)) <= 0) {
      last = "no answer in time";
      continue;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      last = std::strerror(err);
      continue;
    }
    ::freeaddrinfo(found);
    sock.fd = s.fd;
    s.fd = -1;
    return {};
  }
  ::freeaddrinfo(found);
  return fail(Errc::unavailable, "cannot connect to " + where + ": " + last);
}

// One line (without its newline) within the deadline; at most `max` bytes.
Result<std::string> read_line(int fd,
                              std::string& buffer,
                              Clock::time_point deadline,
                              std::size_t max,
                              const std::string& where) {
  while (buffer.find('\n') == std::string::npos) {
    if (buffer.size() > max) {
      return fail(Errc::io_error, where + " sent a line over " + std::to_string(max) + " bytes");
    }
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, left_ms(deadline));
    if (ready <= 0) {
      return fail(Errc::unavailable, "no answer from " + where + " in time");
    }
    char chunk[4096];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      return fail(Errc::io_error, where + " closed the connection without an answer");
    }
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  const auto nl = buffer.find('\n');
  std::string line = buffer.substr(0, nl);
  buffer.erase(0, nl + 1);
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

}  // namespace

Result<ControlReply> endpoint_command(const std::string& host,
                                      unsigned port,
                                      std::string_view secret,
                                      std::string_view command,
                                      std::chrono::milliseconds timeout) {
  const std::string where = core::format_address(host, port);
  const auto deadline = Clock::now() + timeout;
  Fd sock;
  if (auto c = connect_within(sock, host, port, deadline, where); !c) {
    return tl::unexpected(c.error());
  }
  std::string buffer;
  auto greeting = read_line(sock.fd, buffer, deadline, 256, where);
  if (!greeting) {
    return tl::unexpected(greeting.error());
  }
  const auto nonce = greeting_nonce(*greeting);
  if (!nonce) {
    return fail(Errc::io_error,
                where + " is not a zmproxy control endpoint (it greeted otherwise)");
  }
  std::string line = control_proof(secret, *nonce, command);
  line.append(" ").append(command).append("\n");
  for (std::size_t sent = 0; sent < line.size();) {
    pollfd p{sock.fd, POLLOUT, 0};
    if (::poll(&p, 1, left_ms(deadline)) <= 0) {
      return fail(Errc::unavailable, "cannot send to " + where + " in time");
    }
    const ssize_t n = ::send(sock.fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n <= 0 && errno != EAGAIN) {
      return fail(Errc::io_error, "cannot send to " + where + ": " + std::strerror(errno));
    }
    sent += n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  auto reply = read_line(sock.fd, buffer, deadline, k_reply_max, where);
  if (!reply) {
    return tl::unexpected(reply.error());
  }
  if (*reply == "ERROR not authenticated") {
    return fail(Errc::permission_denied,
                where + " refused the proof: zmproxy_control_secret differs from this host's");
  }
  return parse_control_reply(*reply);
}

}  // namespace zmproxy::net

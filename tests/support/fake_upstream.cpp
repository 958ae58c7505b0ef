#include "tests/support/fake_upstream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <stdexcept>

namespace zmproxy::test {

namespace {

using Clock = std::chrono::steady_clock;

// The connection's bytes, read with a deadline.
class Peer {
 public:
  Peer(int fd, Clock::time_point deadline, std::string& received) : m_fd(fd), m_deadline(deadline), m_received(received) {}

  // The next line (CR LF or LF removed), or nullopt on EOF or the deadline.
  std::optional<std::string> line() {
    while (true) {
      if (const auto lf = m_pending.find('\n'); lf != std::string::npos) {
        std::string out = m_pending.substr(0, lf);
        m_pending.erase(0, lf + 1);
        if (!out.empty() && out.back() == '\r') {
          out.pop_back();
        }
        return out;
      }
      if (!more()) {
        return std::nullopt;
      }
    }
  }

  // Reads until EOF or the deadline.
  void drain() {
    while (more()) {
    }
  }

  bool send(const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::send(m_fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

 private:
  bool more() {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(m_deadline - Clock::now());
    pollfd p{m_fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return false;
    }
    char buf[4096];
    const ssize_t n = ::recv(m_fd, buf, sizeof buf, 0);
    if (n <= 0) {
      return false;
    }
    m_pending.append(buf, static_cast<std::size_t>(n));
    m_received.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int m_fd;
  Clock::time_point m_deadline;
  std::string& m_received;
  std::string m_pending;
};

std::string with_tag(std::string reply, const std::string& line) {
  const std::string tag = line.substr(0, line.find(' '));
  for (std::size_t at = reply.find("{tag}"); at != std::string::npos; at = reply.find("{tag}", at + tag.size())) {
    reply.replace(at, 5, tag);
  }
  return reply;
}

// Plays `script` on `peer`; "" when it was played whole, else what went wrong.
std::string play(Peer& peer, const std::vector<ScriptStep>& script) {
  for (const ScriptStep& step : script) {
    const auto line = peer.line();
    if (!line) {
      return "the peer closed or went quiet before a line starting with \"" + step.expect + "\"";
    }
    if (line->rfind(step.expect, 0) != 0) {
      return "expected a line starting with \"" + step.expect + "\", got \"" + *line + "\"";
    }
    if (step.then_skip_to_blank) {
      for (auto header = peer.line(); header && !header->empty(); header = peer.line()) {
      }
    }
    if (!peer.send(with_tag(step.reply, *line))) {
      return "could not send the reply to \"" + *line + "\"";
    }
  }
  return {};
}

}  // namespace

FakeUpstream::FakeUpstream(std::string greeting, std::vector<ScriptStep> script, std::chrono::milliseconds timeout)
    : m_greeting(std::move(greeting)), m_script(std::move(script)), m_timeout(timeout) {
  m_listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (m_listen_fd < 0 || ::bind(m_listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(m_listen_fd, 4) != 0 || ::getsockname(m_listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("fake upstream: cannot listen on 127.0.0.1");
  }
  m_port = ntohs(addr.sin_port);
  m_thread = std::thread([this] { serve(); });
}

FakeUpstream::~FakeUpstream() { finish(); }

void FakeUpstream::serve() {
  const auto deadline = Clock::now() + m_timeout;
  pollfd p{m_listen_fd, POLLIN, 0};
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(m_timeout).count();
  const int fd = ::poll(&p, 1, static_cast<int>(wait)) == 1 ? ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC) : -1;
  std::string received;
  std::string failure = "no connection";
  if (fd >= 0) {
    Peer peer(fd, deadline, received);
    failure = peer.send(m_greeting) ? play(peer, m_script) : "could not send the greeting";
    if (failure.empty()) {
      peer.drain();
    }
    ::close(fd);
  }
  std::lock_guard lock(m_mutex);
  m_received = std::move(received);
  m_failure = std::move(failure);
  m_done = true;
}

bool FakeUpstream::done() {
  std::lock_guard lock(m_mutex);
  return m_done;
}

void FakeUpstream::finish() {
  if (m_thread.joinable()) {
    m_thread.join();
  }
  if (m_listen_fd >= 0) {
    ::close(m_listen_fd);
    m_listen_fd = -1;
  }
}

std::string FakeUpstream::received() {
  finish();
  std::lock_guard lock(m_mutex);
  return m_received;
}

std::string FakeUpstream::failure() {
  finish();
  std::lock_guard lock(m_mutex);
  return m_failure;
}

std::string FakeUpstream::route_reply(unsigned short port) {
  return "HTTP/1.1 200 OK\r\nAuth-Status: OK\r\nAuth-Server: 127.0.0.1\r\nAuth-Port: " + std::to_string(port) +
         "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}

}  // namespace zmproxy::test

#pragma once
// MemcachedProcess: a real memcached for one test, on a free 127.0.0.1 port,
// killed (by its PID only) when the object goes out of scope, so also when a
// REQUIRE throws. The child also gets PR_SET_PDEATHSIG, so it dies with the
// test process even if that one crashes. Plus raw text-protocol helpers
// (raw_set, raw_get, raw_delete, raw_stat) that talk to one server directly,
// bypassing any client-side hashing.
//
// Thread affinity: create, stop, pause and resume from the thread that runs
// the test (PR_SET_PDEATHSIG follows the thread that forked). The raw_*
// helpers are free functions, safe from any thread.
//
// The binary is /usr/bin/memcached, or $ZMPROXY_MEMCACHED if set. As root,
// memcached insists on -u; it gets "-u root" (see start()).

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <netinet/in.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <vector>

namespace zmproxy::test {

namespace memcached_detail {

// A connected loopback TCP socket with 2 s send/receive timeouts, or -1.
inline int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace memcached_detail

// Sends `request` on a fresh connection and reads until the reply ends with
// `terminator` (or EOF, an error, or the 2 s timeout). Returns what was read.
inline std::string memcached_raw(std::uint16_t port,
                                 std::string_view request,
                                 std::string_view terminator) {
  const int fd = memcached_detail::connect_loopback(port);
  if (fd < 0) {
    return {};
  }
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      return {};
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string reply;
  char buf[4096];
  while (!memcached_detail::ends_with(reply, terminator)) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      break;
    }
    reply.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return reply;
}

inline bool raw_set(std::uint16_t port, std::string_view key, std::string_view value) {
  const std::string request = "set " + std::string(key) + " 0 0 " + std::to_string(value.size()) +
                              "\r\n" + std::string(value) + "\r\n";
  return memcached_raw(port, request, "\r\n") == "STORED\r\n";
}

inline std::optional<std::string> raw_get(std::uint16_t port, std::string_view key) {
  const std::string reply = memcached_raw(port, "get " + std::string(key) + "\r\n", "END\r\n");
  const std::string prefix = "VALUE " + std::string(key) + " ";
  if (reply.rfind(prefix, 0) != 0) {
    return std::nullopt;
  }
  const auto header_end = reply.find("\r\n");
  const auto length_at = reply.rfind(' ', header_end) + 1;
  const auto length = std::stoul(reply.substr(length_at, header_end - length_at));
  return reply.substr(header_end + 2, length);
}

// "DELETED" or "NOT_FOUND" (without CRLF), or "" if the server did not answer.
inline std::string raw_delete(std::uint16_t port, std::string_view key) {
  std::string reply = memcached_raw(port, "delete " + std::string(key) + "\r\n", "\r\n");
  if (memcached_detail::ends_with(reply, "\r\n")) {
    reply.resize(reply.size() - 2);
  }
  return reply;
}

// One numeric line of `stats` ("curr_items", "pid", "cmd_get"...).
inline std::optional<std::uint64_t> raw_stat(std::uint16_t port, std::string_view name) {
  const std::string reply = memcached_raw(port, "stats\r\n", "END\r\n");
  const std::string needle = "STAT " + std::string(name) + " ";
  const auto at = reply.find(needle);
  if (at == std::string::npos) {
    return std::nullopt;
  }
  const auto value_at = at + needle.size();
  return std::stoull(reply.substr(value_at, reply.find("\r\n", value_at) - value_at));
}

// A port that was free on 127.0.0.1 a moment ago (bind to port 0, read it back).
inline std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw std::runtime_error("socket() failed");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

class MemcachedProcess {
 public:
  // Starts memcached on a free port (retrying if another process takes the
  // port first) and returns once it answers `stats` with its own PID.
  MemcachedProcess() {
    for (int attempt = 0; attempt < 10; ++attempt) {
      if (start(free_loopback_port())) {
        return;
      }
    }
    throw std::runtime_error("could not start memcached on a free port");
  }
  // Starts memcached on `port`, e.g. to bring back a server that was stopped.
  explicit MemcachedProcess(std::uint16_t port) {
    if (!start(port)) {
      throw std::runtime_error("could not start memcached on port " + std::to_string(port));
    }
  }
  MemcachedProcess(const MemcachedProcess&) = delete;
  MemcachedProcess& operator=(const MemcachedProcess&) = delete;
  ~MemcachedProcess() { stop(); }

  std::uint16_t port() const noexcept { return m_port; }
  std::string address() const { return "127.0.0.1:" + std::to_string(m_port); }
  pid_t pid() const noexcept { return m_pid; }
  bool running() const noexcept { return m_pid > 0; }

  // Kills the server (SIGKILL, also when paused) and reaps it. Idempotent.
  void stop() noexcept {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      int status = 0;
      while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
      }
      m_pid = -1;
    }
  }
  // Freezes the server (SIGSTOP): the kernel still accepts connections, but
  // nothing answers, like a hung server. Returns once every thread of it has
  // stopped: kill() alone returns while other threads may still serve a
  // request for a moment.
  void pause() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGSTOP);
      int status = 0;
      while (::waitpid(m_pid, &status, WUNTRACED) < 0 && errno == EINTR) {
      }
    }
  }
  void resume() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGCONT);
      int status = 0;
      while (::waitpid(m_pid, &status, WCONTINUED) < 0 && errno == EINTR) {
      }
    }
  }
  // Starts it again on the same port after stop().
  void restart() {
    stop();
    if (!start(m_port)) {
      throw std::runtime_error("could not restart memcached on port " + std::to_string(m_port));
    }
  }

 private:
  bool start(std::uint16_t port) {
    m_port = port;
    const char* env = std::getenv("ZMPROXY_MEMCACHED");
    const std::string binary = env != nullptr && *env != '\0' ? env : "/usr/bin/memcached";
    std::vector<std::string> args = {
        binary, "-l", "127.0.0.1", "-p", std::to_string(port), "-U", "0", "-t", "1", "-m", "16"};
    if (::geteuid() == 0) {
      // memcached refuses to run as root without -u. "-u root" keeps the
      // credentials unchanged, which keeps PR_SET_PDEATHSIG armed: the kernel
      // clears it when a process changes its effective uid (-u nobody).
      args.insert(args.end(), {"-u", "root"});
    }
    std::vector<char*> argv;
    for (std::string& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);

    const pid_t parent = ::getpid();
    const pid_t child = ::fork();
    if (child < 0) {
      throw std::runtime_error("fork failed");
    }
    if (child == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) {
        ::_exit(127);
      }
      const int null_fd = ::open("/dev/null", O_RDWR);
      if (null_fd >= 0) {
        ::dup2(null_fd, 0);
        ::dup2(null_fd, 1);
        ::dup2(null_fd, 2);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    m_pid = child;

    // Ready when `stats` on the port reports our child's PID (not some other
    // process that took the port between free_loopback_port() and exec).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
        m_pid = -1;  // exited: port taken, or no binary
        return false;
      }
      if (const auto pid = raw_stat(port, "pid");
          pid && *pid == static_cast<std::uint64_t>(m_pid)) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop();
    return false;
  }

  pid_t m_pid = -1;
  std::uint16_t m_port = 0;
};

}  // namespace zmproxy::test

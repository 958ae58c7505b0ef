#include "lib/core/password_prompt.hpp"

#include <termios.h>
#include <unistd.h>

#include <cerrno>

namespace zmproxy::core {

namespace {

// One line from fd, byte by byte (nothing after the line is consumed, so a
// caller may go on reading the same descriptor).
Result<std::string> read_line(int fd) {
  std::string line;
  for (;;) {
    char c = 0;
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      if (line.empty()) {
        return fail(Errc::invalid_argument, "no password: the input ended before a line");
      }
      break;  // a last line without LF
    }
    if (c == '\n') {
      break;
    }
    if (line.size() >= k_max_password_length) {
      return fail(Errc::invalid_argument, "the password is longer than " +
                                              std::to_string(k_max_password_length) + " bytes");
    }
    line += c;
  }
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Echo off for the lifetime of the object.
class NoEcho {
 public:
  explicit NoEcho(int fd) : m_fd(fd) {
    if (::tcgetattr(fd, &m_saved) == 0) {
      termios quiet = m_saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      quiet.c_lflag |= ECHONL;
      m_active = ::tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
    }
  }
  ~NoEcho() {
    if (m_active) {
      ::tcsetattr(m_fd, TCSAFLUSH, &m_saved);
    }
  }
  NoEcho(const NoEcho&) = delete;
  NoEcho& operator=(const NoEcho&) = delete;

 private:
  int m_fd;
  termios m_saved{};
  bool m_active = false;
};

}  // namespace

Result<std::string> read_password(int fd, std::string_view prompt, bool confirm) {
  if (::isatty(fd) == 0) {
    return read_line(fd);
  }
  const NoEcho quiet(fd);
  write_all(fd, prompt);
  auto first = read_line(fd);
  if (!first || !confirm) {
    return first;
  }
  write_all(fd, "Retype the password: ");
  auto second = read_line(fd);
  if (!second) {
    return second;
  }
  if (*second != *first) {
    return fail(Errc::invalid_argument, "the passwords typed differ; nothing was changed");
  }
  return first;
}

}  // namespace zmproxy::core

#include "lib/core/pid_file.hpp"

#include "lib/core/file_owner.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/file.h>

namespace zmproxy::core {

namespace {

std::optional<long> read_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) {
    return std::nullopt;
  }
  const long pid = std::atol(buf);
  return pid > 0 ? std::optional<long>(pid) : std::nullopt;
}

}  // namespace

Result<PidFile> PidFile::acquire(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  // Never through a symlink: whoever could plant one in run/ would have
  // root truncate and write the file it points to.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    if (errno == ELOOP) {
      return fail(Errc::invalid_argument, "pid file " + path.string() +
                                              " is a symbolic link; remove it and start again");
    }
    return fail(Errc::io_error, "cannot open " + path.string() + ": " + std::strerror(errno));
  }
  match_directory_owner(fd, path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const auto other = read_pid(fd);
    ::close(fd);
    return fail(Errc::already_exists, "already running (pid " +
                                          (other ? std::to_string(*other) : std::string("?")) +
                                          ", " + path.string() + "); stop it first");
  }
  const std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    ::close(fd);
    return fail(Errc::io_error, "cannot write " + path.string() + ": " + std::strerror(errno));
  }
  return PidFile(path, fd);
}

PidFile::PidFile(PidFile&& other) noexcept
    : m_path(std::move(other.m_path)), m_fd(std::exchange(other.m_fd, -1)) {}

PidFile& PidFile::operator=(PidFile&& other) noexcept {
  if (this != &other) {
    this->~PidFile();
    m_path = std::move(other.m_path);
    m_fd = std::exchange(other.m_fd, -1);
  }
  return *this;
}

PidFile::~PidFile() {
  if (m_fd >= 0) {
    std::error_code ec;
    std::filesystem::remove(m_path, ec);
    ::close(m_fd);
    m_fd = -1;
  }
}

std::optional<long> running_pid(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return std::nullopt;
  }
  std::optional<long> pid;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    pid = read_pid(fd);  // locked: its holder is alive
  }
  ::close(fd);
  return pid;
}

}  // namespace zmproxy::core

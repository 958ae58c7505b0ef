#include "lib/core/file_lock.hpp"

#include "lib/core/file_owner.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sys/file.h>
#include <utility>

namespace zmproxy::core {

Result<FileLock> FileLock::acquire(const std::filesystem::path& lock_file) {
  std::error_code ec;
  std::filesystem::create_directories(lock_file.parent_path(), ec);
  const int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  match_directory_owner(fd, lock_file);
  if (fd < 0) {
    return fail(Errc::io_error,
                "cannot open lock file " + lock_file.string() + ": " + std::strerror(errno));
  }
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      const int err = errno;
      ::close(fd);
      return fail(Errc::io_error, "cannot lock " + lock_file.string() + ": " + std::strerror(err));
    }
  }
  return FileLock(fd);
}

FileLock::FileLock(FileLock&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = std::exchange(other.m_fd, -1);
  }
  return *this;
}

FileLock::~FileLock() {
  if (m_fd >= 0) {
    ::close(m_fd);  // releases the flock
  }
}

}  // namespace zmproxy::core

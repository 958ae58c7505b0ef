#pragma once
// An exclusive advisory lock (flock) on a lock file, held for the object's
// lifetime: read-modify-write cycles of concurrent processes serialize on it.

#include "lib/core/result.hpp"

#include <filesystem>

namespace zmproxy::core {

class FileLock {
 public:
  // Blocks until the lock is held. Creates the lock file (and its directory).
  static Result<FileLock> acquire(const std::filesystem::path& lock_file);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : m_fd(fd) {}
  int m_fd = -1;
};

}  // namespace zmproxy::core

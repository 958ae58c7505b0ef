#pragma once
// A daemon's pid file, locked (flock) for the daemon's whole life: a second
// instance cannot start, and a pid file left by a crash (its pid perhaps
// reused by an unrelated process) is never mistaken for a live daemon.

#include "lib/core/result.hpp"

#include <filesystem>
#include <optional>

namespace zmproxy::core {

class PidFile {
 public:
  // Lock `path` and write this process's pid into it. Errc::already_exists
  // (naming the running pid) when another process holds it.
  static Result<PidFile> acquire(const std::filesystem::path& path);

  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&& other) noexcept;
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;
  ~PidFile();  // removes the file and releases the lock

 private:
  PidFile(std::filesystem::path path, int fd) : m_path(std::move(path)), m_fd(fd) {}
  std::filesystem::path m_path;
  int m_fd = -1;
};

// The pid of the live process holding `path`'s lock, if any.
std::optional<long> running_pid(const std::filesystem::path& path);

}  // namespace zmproxy::core

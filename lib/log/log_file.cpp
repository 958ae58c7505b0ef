#include "lib/log/log_file.hpp"

#include <fcntl.h>

#include "lib/core/file_owner.hpp"

namespace zmproxy::log {

int open_log_file(const std::filesystem::path& file) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd >= 0) {
    core::match_directory_owner(fd, file);
  }
  return fd;
}

}  // namespace zmproxy::log

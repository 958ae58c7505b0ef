#include "lib/core/file_owner.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace zmproxy::core {

void match_directory_owner(int fd, const std::filesystem::path& file) noexcept {
  if (fd < 0 || ::geteuid() != 0) {
    return;
  }
  const std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || st.st_uid == 0) {
    return;
  }
  [[maybe_unused]] const int ignored = ::fchown(fd, st.st_uid, st.st_gid);
}

}  // namespace zmproxy::core

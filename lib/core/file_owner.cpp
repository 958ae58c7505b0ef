#include "lib/core/file_owner.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <vector>

namespace zmproxy::core {

namespace {
// How far up a root-owned directory (conf/confgen, just created) may sit
// below the one the service user owns (conf/).
constexpr int k_levels = 3;
}  // namespace

void match_directory_owner(int fd, const std::filesystem::path& file) noexcept {
  if (fd < 0 || ::geteuid() != 0) {
    return;
  }
  try {
    std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";
    // Root-owned directories between the file and the user's: the user owns
    // their parent, so it could replace them anyway; they go to it too.
    std::vector<std::filesystem::path> between;
    for (int level = 0; level < k_levels; ++level) {
      struct stat st {};
      if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return;
      }
      if (st.st_uid != 0) {
        for (const auto& d : between) {
          [[maybe_unused]] const int ignored = ::lchown(d.c_str(), st.st_uid, st.st_gid);
        }
        [[maybe_unused]] const int ignored = ::fchown(fd, st.st_uid, st.st_gid);
        return;
      }
      between.push_back(dir);
      if (!dir.has_parent_path() || dir.parent_path() == dir) {
        return;
      }
      dir = dir.parent_path();
    }
  } catch (...) {
    // Path arithmetic that cannot allocate: the file keeps root as owner.
  }
}

}  // namespace zmproxy::core

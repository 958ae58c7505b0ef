#include "lib/core/atomic_file.hpp"

#include "lib/core/file_owner.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <utility>
#include <sstream>
#include <sys/stat.h>

namespace zmproxy::core {

namespace {

std::string os_error(const std::string& what, const std::filesystem::path& path, int err) {
  return what + " " + path.string() + ": " + std::strerror(err);
}

class Fd {
 public:
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  int get() const { return m_fd; }
  int release() { return std::exchange(m_fd, -1); }

 private:
  int m_fd;
};

}  // namespace

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(errno == ENOENT ? Errc::not_found : Errc::io_error,
                os_error("cannot read", path, errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

// The directory a write goes to, opened once; everything after is relative to
// it, so nothing can be swapped under the write. Run as root, a directory that
// is a symbolic link owned by another user is refused: the daemons' own user
// owns conf/, log/ and run/ and could otherwise point conf/confgen at /etc
// and have root write there.
Result<int> open_target_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    return fd;
  }
  // A link is ELOOP, or ENOTDIR with O_DIRECTORY.
  const int err = errno;
  struct stat st {};
  if ((err != ELOOP && err != ENOTDIR) || ::lstat(dir.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
    return fail(Errc::io_error, os_error("cannot open the directory", dir, err));
  }
  if (::geteuid() == 0 && st.st_uid != 0) {
    return fail(Errc::permission_denied,
                dir.string() + " is a symbolic link owned by another user; root does not write through it "
                               "(replace it with a directory)");
  }
  fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return fail(Errc::io_error, os_error("cannot open the directory", dir, errno));
  }
  return fd;
}

// A new file next to the target, exclusive and not a link: ".<name>.<random>".
Result<std::pair<int, std::string>> create_temporary(int dfd, const std::filesystem::path& path) {
  static constexpr char k_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = "." + path.filename().string() + ".";
    for (int i = 0; i < 8; ++i) {
      name += k_chars[random() % (sizeof k_chars - 1)];
    }
    const int fd = ::openat(dfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
      return std::pair<int, std::string>(fd, std::move(name));
    }
    if (errno != EEXIST) {
      return fail(Errc::io_error, os_error("cannot create a temporary file for", path, errno));
    }
  }
  return fail(Errc::io_error, "cannot create a temporary file for " + path.string() + ": every name was taken");
}

}  // namespace

Result<void> write_file_atomic(const std::filesystem::path& path,
                               std::string_view content,
                               unsigned mode) {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  auto opened_dir = open_target_directory(dir);
  if (!opened_dir) {
    return fail(opened_dir.error().code, opened_dir.error().message);
  }
  const Fd dfd(*opened_dir);
  auto created = create_temporary(dfd.get(), path);
  if (!created) {
    return fail(created.error().code, created.error().message);
  }
  Fd fd(created->first);
  const std::string tmp = created->second;
  auto cleanup_fail = [&](const std::string& what, int err) {
    ::unlinkat(dfd.get(), tmp.c_str(), 0);
    return fail(Errc::io_error, os_error(what, path, err));
  };
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) {
    return cleanup_fail("cannot set the mode of", errno);
  }
  match_directory_owner(fd.get(), path);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return cleanup_fail("cannot write", errno);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    return cleanup_fail("cannot sync", errno);
  }
  if (::close(fd.release()) != 0) {
    return cleanup_fail("cannot close", errno);
  }
  const std::string name = path.filename().string();
  if (::renameat(dfd.get(), tmp.c_str(), dfd.get(), name.c_str()) != 0) {
    return cleanup_fail("cannot replace", errno);
  }
  ::fsync(dfd.get());
  return {};
}

}  // namespace zmproxy::core

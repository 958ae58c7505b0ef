#include "lib/core/atomic_file.hpp"

#include "lib/core/file_owner.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
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

Result<void> write_file_atomic(const std::filesystem::path& path,
                               std::string_view content,
                               unsigned mode) {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string tmpl = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  Fd fd(::mkstemp(tmpl.data()));
  if (fd.get() < 0) {
    return fail(Errc::io_error, os_error("cannot create a temporary file in", dir, errno));
  }
  const std::filesystem::path tmp = tmpl;
  auto cleanup_fail = [&](const std::string& what, int err) {
    ::unlink(tmp.c_str());
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
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return cleanup_fail("cannot replace", errno);
  }
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) {
    ::fsync(dfd.get());
  }
  return {};
}

}  // namespace zmproxy::core

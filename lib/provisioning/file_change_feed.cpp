#include "lib/provisioning/file_change_feed.hpp"

#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <system_error>
#include <utility>

namespace zmproxy::provisioning {
namespace {

constexpr std::uint32_t k_file_events = IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_CREATE;
// The directory itself going away: its watch is gone (DELETE_SELF) or
// follows it elsewhere (MOVE_SELF).
constexpr std::uint32_t k_dir_events = IN_DELETE_SELF | IN_MOVE_SELF;

std::string os_error(std::string_view what, const std::filesystem::path& path, int err) {
  return std::string(what) + " " + path.string() + ": " + std::strerror(err);
}

std::string_view verb(std::uint32_t mask) {
  if ((mask & IN_DELETE) != 0) {
    return "removed";
  }
  if ((mask & IN_MOVED_TO) != 0) {
    return "replaced";
  }
  if ((mask & IN_CREATE) != 0) {
    return "created";
  }
  return "written";
}

void close_fd(int& fd) {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

// What one burst of inotify events said about the watched directory and file.
struct Burst {
  std::uint32_t last = 0;  // the file's last event
  std::size_t count = 0;   // events on the file
  bool overflow = false;
  bool dir_gone = false;
  bool dir_moved = false;
};

// The events queued on `inotify` (non-blocking) until it is drained, for the
// watch `watch` of the directory and its file `name`; `buf` is scratch.
Burst drain(int inotify, int watch, std::string_view name, std::span<char> buf) {
  Burst b;
  for (;;) {
    const ssize_t got = ::read(inotify, buf.data(), buf.size());
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;  // EAGAIN: drained
    }
    if (got == 0) {
      break;
    }
    std::size_t off = 0;
    while (off + sizeof(inotify_event) <= static_cast<std::size_t>(got)) {
      inotify_event ev{};
      std::memcpy(&ev, buf.data() + off, sizeof ev);
      const char* ev_name = buf.data() + off + sizeof(inotify_event);
      off += sizeof(inotify_event) + ev.len;
      if ((ev.mask & IN_Q_OVERFLOW) != 0) {
        b.overflow = true;
        continue;
      }
      if (ev.wd != watch) {
        continue;  // e.g. IN_IGNORED for a watch we removed
      }
      if ((ev.mask & (IN_DELETE_SELF | IN_IGNORED)) != 0) {
        b.dir_gone = true;
        continue;
      }
      if ((ev.mask & IN_MOVE_SELF) != 0) {
        b.dir_moved = true;
        continue;
      }
      if (ev.len == 0 || (ev.mask & k_file_events) == 0) {
        continue;
      }
      if (std::string_view(ev_name, ::strnlen(ev_name, ev.len)) == name) {
        b.last = ev.mask;
        ++b.count;
      }
    }
  }
  return b;
}

}  // namespace

FileChangeFeed::FileChangeFeed(std::filesystem::path file)
    : m_file(std::move(file)),
      m_dir(m_file.has_parent_path() ? m_file.parent_path() : std::filesystem::path(".")),
      m_name(m_file.filename().string()) {}

FileChangeFeed::~FileChangeFeed() {
  stop();
}

std::string FileChangeFeed::describe() const {
  return "inotify on " + m_file.string();
}

bool FileChangeFeed::watch_directory() {
  std::error_code ec;
  std::filesystem::create_directories(m_dir, ec);
  if (ec) {
    errno = ec.value();
    return false;
  }
  m_watch =
      ::inotify_add_watch(m_inotify, m_dir.c_str(), k_file_events | k_dir_events | IN_ONLYDIR);
  return m_watch >= 0;
}

void FileChangeFeed::close_fds() {
  close_fd(m_inotify);
  close_fd(m_wake);
  m_watch = -1;
}

Result<void> FileChangeFeed::start(Callback on_change) {
  const std::lock_guard lock(m_mutex);
  if (m_thread.joinable()) {
    return fail(Errc::invalid_argument, describe() + " runs already");
  }
  if (m_name.empty() || m_name == "." || m_name == "..") {
    return fail(Errc::invalid_argument, "cannot watch '" + m_file.string() + "': not a file name");
  }
  m_inotify = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (m_inotify < 0) {
    const int err = errno;
    return fail(Errc::io_error,
                "inotify_init1 failed: " + std::string(std::strerror(err)) +
                    (err == EMFILE ? " (raise fs.inotify.max_user_instances)" : ""));
  }
  m_wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m_wake < 0) {
    const int err = errno;
    close_fds();
    return fail(Errc::io_error, "eventfd failed: " + std::string(std::strerror(err)));
  }
  if (!watch_directory()) {
    const int err = errno;
    close_fds();
    return fail(Errc::io_error, os_error("cannot create or watch the directory", m_dir, err) +
                                    (err == ENOSPC ? " (raise fs.inotify.max_user_watches)" : ""));
  }
  m_thread = std::thread([this, cb = std::move(on_change)] { run(cb); });
  return {};
}

void FileChangeFeed::wake() {
  const std::uint64_t one = 1;
  // Cannot fail but with EAGAIN (the counter is full), which wakes as well.
  [[maybe_unused]] const ssize_t n = ::write(m_wake, &one, sizeof one);
}

void FileChangeFeed::stop() {
  if (m_thread_id.load() == std::this_thread::get_id()) {
    wake();  // from on_change: the thread ends when it returns; a later stop() joins
    return;
  }
  const std::lock_guard lock(m_mutex);
  if (!m_thread.joinable()) {
    return;
  }
  wake();
  m_thread.join();
  close_fds();
}

void FileChangeFeed::run(const Callback& on_change) {
  const ThreadIdGuard guard(m_thread_id);
  on_change("initial");
  std::array<pollfd, 2> fds{};
  fds[0] = pollfd{m_inotify, POLLIN, 0};
  fds[1] = pollfd{m_wake, POLLIN, 0};
  // Big enough for many events at once; each is sizeof(inotify_event) + a
  // name of at most NAME_MAX + 1 bytes.
  alignas(inotify_event) std::array<char, 65536> buf{};
  for (;;) {
    fds[0].revents = 0;
    fds[1].revents = 0;
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;  // cannot happen with valid fds; nothing left to watch with
    }
    if (fds[1].revents != 0) {
      return;  // stop()
    }
    if (fds[0].revents == 0) {
      continue;
    }
    // Drain everything queued: one callback for the whole burst.
    const Burst burst = drain(m_inotify, m_watch, m_name, buf);
    std::string what;
    if (burst.dir_gone || burst.dir_moved) {
      const bool dir_moved = burst.dir_moved;
      if (dir_moved) {
        ::inotify_rm_watch(m_inotify, m_watch);  // it follows the old directory
      }
      m_watch = -1;
      if (watch_directory()) {
        what = m_dir.string() + " was " + (dir_moved ? "moved" : "removed") +
               "; created and watched again";
      } else {
        what = os_error(std::string(dir_moved ? "moved" : "removed") +
                            ", and cannot create or watch again the directory",
                        m_dir, errno);
      }
    } else if (burst.overflow) {
      what = "inotify queue overflow: " + m_name + " may have changed";
    } else if (burst.count > 0) {
      what = m_name + " " + std::string(verb(burst.last));
      if (burst.count > 1) {
        what += " (" + std::to_string(burst.count) + " events)";
      }
    } else {
      continue;
    }
    on_change(what);
  }
}

}  // namespace zmproxy::provisioning

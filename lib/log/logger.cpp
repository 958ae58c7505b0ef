#include "lib/log/logger.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <mutex>

#include "lib/core/strings.hpp"
#include "lib/log/log_file.hpp"

namespace zmproxy::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_fd{STDERR_FILENO};
std::mutex g_file_mutex;
std::filesystem::path g_file;  // under g_file_mutex

constexpr std::string_view level_name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "?";
}
}  // namespace

Level parse_level(std::string_view name, Level fallback) noexcept {
  for (Level l : {Level::debug, Level::info, Level::warn, Level::error}) {
    if (core::iequals(name, level_name(l))) {
      return l;
    }
  }
  if (core::iequals(name, "notice")) {
    return Level::info;
  }
  if (core::iequals(name, "crit")) {
    return Level::error;
  }
  return fallback;
}

void set_level(Level level) noexcept { g_level = static_cast<int>(level); }
bool enabled(Level level) noexcept { return static_cast<int>(level) >= g_level.load(); }

namespace {
bool open_locked(const std::filesystem::path& file) {
  int fd = STDERR_FILENO;
  if (!file.empty()) {
    fd = open_log_file(file);
    if (fd < 0) {
      return false;
    }
  }
  const int old = g_fd.exchange(fd);
  if (old != STDERR_FILENO) {
    ::close(old);
  }
  g_file = file;
  return true;
}
}  // namespace

bool set_file(const std::filesystem::path& file) {
  std::lock_guard lock(g_file_mutex);
  return open_locked(file);
}

bool reopen_file() {
  std::lock_guard lock(g_file_mutex);
  const int current = g_fd.load();
  if (g_file.empty() || current == STDERR_FILENO) {
    return true;
  }
  const int fd = open_log_file(g_file);
  if (fd < 0) {
    return false;
  }
  // Same number, new file: a thread writing right now writes to one or the
  // other, never to a closed descriptor.
  ::dup3(fd, current, O_CLOEXEC);
  ::close(fd);
  return true;
}

void write(Level level, std::string_view component, std::string_view message) {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  ::localtime_r(&ts.tv_sec, &tm);
  char stamp[32];
  const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
  std::string line = fmt::format("{}.{:03d} {} {}: ", std::string_view(stamp, n),
                                 static_cast<int>(ts.tv_nsec / 1'000'000), level_name(level), component);
  for (char c : message) {
    line += (c == '\n' || c == '\r') ? ' ' : c;  // one event, one line
  }
  line += '\n';
  // One write(2) per line keeps lines whole across threads and processes.
  [[maybe_unused]] const auto written = ::write(g_fd.load(), line.data(), line.size());
}

}  // namespace zmproxy::log

#include "lib/log/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>

#include <fmt/format.h>

namespace zmproxy::log {

namespace {
std::string field(std::string_view v) {
  if (v.empty()) {
    return "-";
  }
  std::string out;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    out += (u <= 0x20 || u == 0x7f) ? '?' : c;  // one token, one line
  }
  return out;
}
}  // namespace

AccessLog::AccessLog(std::filesystem::path file) {
  if (file.empty()) {
    return;
  }
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  m_fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

AccessLog::~AccessLog() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

std::string clf_time() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  return std::string(buf, n);
}

void AccessLog::write_line(std::string line) {
  if (m_fd < 0) {
    return;
  }
  line += '\n';
  [[maybe_unused]] const auto w = ::write(m_fd, line.data(), line.size());
}

void AccessLog::write(const AccessRecord& r) {
  if (m_fd < 0) {
    return;
  }
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  ::gmtime_r(&ts.tv_sec, &tm);
  char stamp[32];
  const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  const std::string line = fmt::format("{}.{:03d}Z {} {} {} {} in={} out={} ms={} {}\n",
                                       std::string_view(stamp, n), static_cast<int>(ts.tv_nsec / 1'000'000),
                                       field(r.client), field(r.protocol), field(r.user),
                                       field(r.upstream), r.bytes_in, r.bytes_out, r.millis,
                                       field(r.outcome));
  [[maybe_unused]] const auto w = ::write(m_fd, line.data(), line.size());
}

}  // namespace zmproxy::log

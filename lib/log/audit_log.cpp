#include "lib/log/audit_log.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include "lib/core/json.hpp"

namespace zmproxy::log {

namespace {

std::string os_user() {
  const uid_t uid = ::geteuid();
  std::string name = std::to_string(uid);
  if (const passwd* pw = ::getpwuid(uid); pw != nullptr && pw->pw_name != nullptr) {
    name = pw->pw_name;
  }
  if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr && *sudo != '\0') {
    name += " (sudo by " + std::string(sudo) + ")";
  }
  return name;
}

std::string iso_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03ldZ", ts.tv_nsec / 1'000'000);
  return buf;
}

std::vector<std::string> masked(const std::vector<std::string>& v, bool secret) {
  if (!secret) {
    return v;
  }
  return std::vector<std::string>(v.size(), "***");
}

}  // namespace

AuditLog::AuditLog(std::filesystem::path file, std::string tool)
    : m_file(std::move(file)), m_tool(std::move(tool)), m_user(os_user()) {}

bool AuditLog::record(std::string_view op, std::string_view entry,
                      const std::vector<AuditChange>& changes) {
  std::error_code ec;
  std::filesystem::create_directories(m_file.parent_path(), ec);
  const int fd = ::open(m_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) {
    return false;
  }
  const std::string time = iso_now();
  bool ok = true;
  for (const AuditChange& c : changes) {
    std::string line = "{\"time\":" + core::json_quote(time) + ",\"user\":" + core::json_quote(m_user) +
                       ",\"tool\":" + core::json_quote(m_tool) + ",\"op\":" + core::json_quote(op) +
                       ",\"entry\":" + core::json_quote(entry) + ",\"attr\":" + core::json_quote(c.attr) +
                       ",\"old\":" + core::json_array(masked(c.before, c.secret)) +
                       ",\"new\":" + core::json_array(masked(c.after, c.secret)) + "}\n";
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      ok = false;
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace zmproxy::log

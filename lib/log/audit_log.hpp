#pragma once
// The audit log (log/audit.log): one JSON line per attribute changed by an
// admin tool — time, OS user, tool, operation, entry, attribute, old and new
// values, secrets masked. Appended with one write per line (O_APPEND).

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::log {

struct AuditChange {
  std::string attr;
  std::vector<std::string> before;
  std::vector<std::string> after;
  bool secret = false;
};

class AuditLog {
 public:
  AuditLog(std::filesystem::path file, std::string tool);
  // Returns false (and leaves the change made) when the log cannot be written;
  // the caller warns once.
  bool record(std::string_view op, std::string_view entry, const std::vector<AuditChange>& changes);
  const std::filesystem::path& file() const { return m_file; }

 private:
  std::filesystem::path m_file;
  std::string m_tool;
  std::string m_user;
};

}  // namespace zmproxy::log

#pragma once
// The access log: one line per finished session, appended with one write(2):
//   time client protocol user upstream in=<bytes> out=<bytes> ms=<duration> outcome
// Fields never contain a password; missing ones are "-". Thread-safe.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace zmproxy::log {

struct AccessRecord {
  std::string client;     // address:port
  std::string protocol;   // imap imaps pop3 pop3s
  std::string user;       // as sent upstream, or "-"
  std::string upstream;   // address:port, or "-"
  std::uint64_t bytes_in = 0;   // client -> proxy
  std::uint64_t bytes_out = 0;  // proxy -> client
  std::uint64_t millis = 0;
  std::string outcome;    // ok, auth-failed, unavailable, timeout, closed, ...
};

// The current time as the combined log format writes it: 29/Nov/2026:01:02:03 +0000
std::string clf_time();

class AccessLog {
 public:
  // Empty path: no access log.
  explicit AccessLog(std::filesystem::path file);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;
  void write(const AccessRecord& r);
  // A line already formatted (the web proxy's combined format); adds "\n".
  void write_line(std::string line);

 private:
  int m_fd = -1;
};

}  // namespace zmproxy::log

#pragma once
// The access log: one line per finished session (or web request):
//   time client protocol user upstream in=<bytes> out=<bytes> ms=<duration> outcome [detail]
// Fields never contain a password; missing ones are "-". Thread-safe.
//
// Lines are gathered in memory and appended with one write(2) when 32 KiB
// have piled up, at the latest a second after the first of them (nginx's
// `access_log ... buffer=32k flush=1s`), and when the log is destroyed:
// a busy web proxy would otherwise make a system call per request. Only the
// log's own thread writes, so a slow disk never holds up a worker; if it
// falls 8 MiB behind, lines are dropped and a line says how many.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace zmproxy::log {

struct AccessRecord {
  std::string client;     // address:port
  std::string protocol;   // imap imaps pop3 pop3s
  std::string user;       // as sent upstream, or "-"
  std::string upstream;   // address:port, or "-"
  std::uint64_t bytes_in = 0;   // client -> proxy
  std::uint64_t bytes_out = 0;  // proxy -> client
  std::uint64_t millis = 0;
  std::string outcome;  // ok, auth-failed, unavailable, timeout, closed, upstream-error,
                        // throttled:<reason>, ...
  std::string detail;   // more on the outcome ("tarpit=2000ms"), or nothing
};

// The current time as the combined log format writes it: 29/Nov/2026:01:02:03 +0000
// (valid on the calling thread until its next call).
std::string_view clf_time();

class AccessLog {
 public:
  // Empty path: no access log. `flush_after`: how long a line may wait.
  explicit AccessLog(std::filesystem::path file,
                     std::chrono::milliseconds flush_after = std::chrono::seconds(1));
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;
  void write(const AccessRecord& r);
  // A line already formatted (the web proxy's combined format); adds "\n".
  void write_line(std::string_view line);
  // Writes what is gathered now.
  void flush();
  // Writes what is gathered, then opens the file again under its name
  // (logrotate renamed it; SIGUSR1). False, the old file kept, on failure.
  bool reopen();
  // Lines dropped since start because the file did not keep up (more than
  // k_most_pending bytes waited); each batch also writes how many it lost.
  std::uint64_t dropped() const noexcept { return m_dropped_total.load(std::memory_order_relaxed); }
  static constexpr std::size_t k_most_pending = 8 * 1024 * 1024;
  // Bytes gathered and not written yet.
  std::size_t pending();

 private:
  void append(std::string_view text, std::string_view more = {});
  void write_out(std::unique_lock<std::mutex>& lock);
  void flusher();

  std::filesystem::path m_file;
  int m_fd = -1;
  std::mutex m_mutex;        // m_pending, m_stop
  std::mutex m_write_mutex;  // m_writing; taken after m_mutex
  std::condition_variable m_wake;
  std::string m_pending;
  std::string m_writing;  // the batch being written, outside the lock
  std::uint64_t m_dropped = 0;  // lines not kept since the last write
  std::atomic<std::uint64_t> m_dropped_total{0};
  std::chrono::milliseconds m_flush_after;
  bool m_stop = false;
  std::thread m_thread;  // flushes a second after the first line of a batch
};

}  // namespace zmproxy::log

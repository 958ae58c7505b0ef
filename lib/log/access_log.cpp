#include "lib/log/access_log.hpp"

#include "lib/log/log_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>

#include <fmt/format.h>

namespace zmproxy::log {

namespace {
constexpr std::size_t k_batch = 32 * 1024;
constexpr std::size_t k_most = AccessLog::k_most_pending;  // if the disk does not keep up

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

AccessLog::AccessLog(std::filesystem::path file, std::chrono::milliseconds flush_after)
    : m_file(file), m_flush_after(flush_after) {
  if (file.empty()) {
    return;
  }
  m_fd = open_log_file(file);
  if (m_fd >= 0) {
    m_pending.reserve(k_batch);
    m_thread = std::thread([this] { flusher(); });
  }
}

AccessLog::~AccessLog() {
  if (m_thread.joinable()) {
    {
      std::lock_guard lock(m_mutex);
      m_stop = true;
    }
    m_wake.notify_one();
    m_thread.join();
  }
  flush();
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

void AccessLog::append(std::string_view text, std::string_view more) {
  std::lock_guard lock(m_mutex);
  if (m_pending.size() >= k_most) {
    ++m_dropped;
    m_dropped_total.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const bool first = m_pending.empty();
  const bool was_short = m_pending.size() < k_batch;
  m_pending.append(text);
  m_pending.append(more);
  // The flusher starts its wait at a batch's first line and writes at once
  // when the batch is full.
  if (first || (was_short && m_pending.size() >= k_batch)) {
    m_wake.notify_one();
  }
}

// Called with m_mutex held (by the flusher, or by flush()); writes the batch
// without it, so workers go on adding lines. The writer lock, taken before
// the swap, keeps batches in order.
void AccessLog::write_out(std::unique_lock<std::mutex>& lock) {
  std::unique_lock writing(m_write_mutex);
  if (m_pending.empty() && m_dropped == 0) {
    return;
  }
  m_writing.swap(m_pending);
  if (m_dropped > 0) {
    m_writing += std::to_string(m_dropped) + " access log lines were dropped: the log file did not keep up\n";
    m_dropped = 0;
  }
  lock.unlock();
  std::size_t done = 0;
  while (done < m_writing.size()) {
    const auto w = ::write(m_fd, m_writing.data() + done, m_writing.size() - done);
    if (w <= 0) {
      break;  // a full disk loses this batch, never the proxy
    }
    done += static_cast<std::size_t>(w);
  }
  m_writing.clear();
  writing.unlock();
  lock.lock();
}

std::size_t AccessLog::pending() {
  std::lock_guard lock(m_mutex);
  return m_pending.size();
}

void AccessLog::flush() {
  if (m_fd < 0) {
    return;
  }
  std::unique_lock lock(m_mutex);
  write_out(lock);
}

bool AccessLog::reopen() {
  if (m_fd < 0) {
    return m_file.empty();
  }
  std::unique_lock lock(m_mutex);
  write_out(lock);
  // Held while swapping: no batch is being written to the old descriptor.
  std::lock_guard writing(m_write_mutex);
  const int fd = open_log_file(m_file);
  if (fd < 0) {
    return false;
  }
  ::dup3(fd, m_fd, O_CLOEXEC);  // the number stays: nothing else needs to learn it
  ::close(fd);
  return true;
}

void AccessLog::flusher() {
  std::unique_lock lock(m_mutex);
  while (!m_stop) {
    m_wake.wait(lock, [this] { return m_stop || !m_pending.empty(); });
    if (m_stop) {
      break;
    }
    // A while after the first line of the batch, unless the batch filled.
    m_wake.wait_for(lock, m_flush_after, [this] { return m_stop || m_pending.size() >= k_batch; });
    write_out(lock);
  }
}

std::string_view clf_time() {
  // Formatted once a second per thread: a busy web proxy logs thousands of
  // requests in the same second.
  thread_local std::time_t last = -1;
  thread_local char buf[40];
  thread_local std::size_t n = 0;
  const std::time_t t = std::time(nullptr);
  if (t != last) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    n = std::strftime(buf, sizeof buf, "%d/%b/%Y:%H:%M:%S +0000", &tm);
    last = t;
  }
  return {buf, n};
}

void AccessLog::write_line(std::string_view line) {
  if (m_fd >= 0) {
    append(line, "\n");
  }
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
  const std::string line = fmt::format(
      "{}.{:03d}Z {} {} {} {} in={} out={} ms={} {}{}{}\n", std::string_view(stamp, n),
      static_cast<int>(ts.tv_nsec / 1'000'000), field(r.client), field(r.protocol), field(r.user),
      field(r.upstream), r.bytes_in, r.bytes_out, r.millis, field(r.outcome),
      r.detail.empty() ? "" : " ", r.detail.empty() ? std::string() : field(r.detail));
  append(line);
}

}  // namespace zmproxy::log

#pragma once
// FileChangeFeed: follows the FileStore's file (data/prov.ldif) with inotify.
//
// The watch is on the file's DIRECTORY (IN_CLOSE_WRITE | IN_MOVED_TO |
// IN_DELETE | IN_CREATE), because the FileStore replaces the file by rename
// (core::write_file_atomic), which a watch on the file itself would lose.
// Only events for the file's name count; temporary files, the lock file and
// anything else in the directory are ignored.
//
// start() creates the directory (mkdir -p) when it does not exist yet, sets
// up the watch, and only then starts the thread, whose first act is
// on_change("initial") so the owner loads once with nothing missed in between.
// The thread blocks in poll() on the inotify fd and an eventfd that stop()
// signals: no timeouts, no busy waiting. A burst (everything already queued
// when the thread wakes) gives one on_change.
//
// A writer that does not replace atomically (open, write, close) can give
// two callbacks (at create and at close); owners should keep their last good
// state when a read fails to parse. If the directory itself is removed or
// renamed, it is created again, watched again, and a change is reported.

#include "lib/provisioning/change_feed.hpp"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

namespace zmproxy::provisioning {

class FileChangeFeed final : public ChangeFeed {
 public:
  explicit FileChangeFeed(std::filesystem::path file);
  ~FileChangeFeed() override;

  // Errc::io_error when the directory cannot be created or watched;
  // Errc::invalid_argument when the feed runs already.
  Result<void> start(Callback on_change) override;
  // Wakes the thread through the eventfd and joins it. Idempotent. From
  // on_change it only asks the thread to end (it cannot join itself); a
  // later stop() or the destructor, on another thread, joins.
  void stop() override;
  std::string describe() const override;

 private:
  void run(const Callback& on_change);
  bool watch_directory();  // inotify_add_watch on the (re)created directory
  void close_fds();
  void wake();

  std::filesystem::path m_file;
  std::filesystem::path m_dir;
  std::string m_name;  // m_file's filename, compared with inotify_event::name
  std::mutex m_mutex;  // start()/stop() against each other
  std::thread m_thread;
  std::atomic<std::thread::id> m_thread_id{};  // the running thread's, for stop() from on_change
  int m_inotify = -1;
  int m_wake = -1;  // eventfd: stop() writes, the thread polls
  int m_watch = -1;
};

}  // namespace zmproxy::provisioning

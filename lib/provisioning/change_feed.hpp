#pragma once
// ChangeFeed: tells its owner that the store changed — pushed, not polled.
// FileChangeFeed watches data/prov.ldif with inotify; LdapChangeFeed follows
// an OpenLDAP directory with RFC 4533 syncrepl (refreshAndPersist) and
// survives server restarts (reconnects, resumes with its cookie).
//
// Threading: start() spawns the feed's own thread; on_change runs on that
// thread, after a change (or a batch of changes that arrived together), and
// once right after the initial refresh. It must be quick (post work
// elsewhere). stop() joins the thread; the destructor stops.

#include "lib/core/home.hpp"
#include "lib/core/result.hpp"
#include "lib/localconfig/localconfig.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace zmproxy::provisioning {

class ChangeFeed {
 public:
  // `what`: a short description for logs ("prov.ldif rewritten", "entry
  // uid=a,ou=people,dc=example,dc=com modified", "refresh done", ...).
  using Callback = std::function<void(std::string_view what)>;

  ChangeFeed() = default;
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;
  ChangeFeed(ChangeFeed&&) = delete;
  ChangeFeed& operator=(ChangeFeed&&) = delete;
  virtual ~ChangeFeed() = default;

  virtual Result<void> start(Callback on_change) = 0;
  virtual void stop() = 0;
  virtual std::string describe() const = 0;
};

// For feeds: publishes the running thread's id (so that stop(), called from
// on_change, knows not to join itself) while in scope.
class ThreadIdGuard {
 public:
  explicit ThreadIdGuard(std::atomic<std::thread::id>& id) : m_id(id) {
    m_id = std::this_thread::get_id();
  }
  ~ThreadIdGuard() { m_id = std::thread::id(); }
  ThreadIdGuard(const ThreadIdGuard&) = delete;
  ThreadIdGuard& operator=(const ThreadIdGuard&) = delete;
  ThreadIdGuard(ThreadIdGuard&&) = delete;
  ThreadIdGuard& operator=(ThreadIdGuard&&) = delete;

 private:
  std::atomic<std::thread::id>& m_id;
};

// The feed for the store localconfig selects (as open_store does).
Result<std::unique_ptr<ChangeFeed>> open_change_feed(const localconfig::LocalConfig& lc,
                                                     const core::HomePaths& home);

}  // namespace zmproxy::provisioning

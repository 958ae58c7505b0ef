#pragma once
// LdapChangeFeed: follows an OpenLDAP directory with RFC 4533 syncrepl in
// refreshAndPersist mode (libldap's ldap_sync_* API; the server needs the
// syncprov overlay on the database).
//
// Its thread connects and binds (LDAP_SASL_SIMPLE, as LdapStore does), runs
// ldap_sync_init(LDAP_SYNC_REFRESH_AND_PERSIST), which returns when the
// refresh phase is done, then calls ldap_sync_poll in a loop, blocking.
// Callbacks (on the feed's thread):
//   "refresh done"        once, after the first refresh phase;
//   "entry <dn> added" /  "... modified" / "... deleted" / "entries deleted"
//                         after each persist-phase change (several that come
//                         in one poll give one callback, "(+N more)");
//   "reconnected"         after a lost connection (slapd restarted) was
//                         re-established and the refresh, resumed with the
//                         saved cookie, is done: the owner re-reads.
// A cookie the server rejects (e-syncRefreshRequired, or "consumer state is
// newer than provider" after slapd crashed before checkpointing contextCSN)
// is dropped and a full refresh runs.
//
// Reconnects back off from 100 ms, doubling to at most 5 s; the backoff
// restarts from 100 ms once a session has run at least 1 s in persist mode
// (a server that drops us right after each refresh keeps backing off).
// TCP keepalive (60 s idle, 3 probes 10 s apart) detects a silently dead
// connection.
//
// stop() wakes the thread at once wherever it waits: a backoff wait (a
// condition variable), the bind, the refresh or ldap_sync_poll (it shuts the
// socket down, which ends libldap's poll() with an error). The TCP connect is
// asynchronous (LDAP_OPT_CONNECT_ASYNC), so a server that does not answer
// does not hold stop() either. Nothing polls on a timer.

#include "lib/provisioning/change_feed.hpp"
#include "lib/provisioning/ldap_store.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace zmproxy::provisioning {

class LdapChangeFeed final : public ChangeFeed {
 public:
  // settings.url: as for LdapStore (libldap tries a space separated list in
  // order at each connect). timeout_seconds bounds the connect and the bind.
  explicit LdapChangeFeed(LdapSettings settings,
                          std::string base = "",
                          std::string filter = "(objectClass=*)");
  ~LdapChangeFeed() override;

  // Errc::invalid_argument for a URL libldap cannot parse, or when the feed
  // runs already. A server that is down is not an error: the thread keeps
  // trying (see last_error()).
  Result<void> start(Callback on_change) override;
  // From on_change it only asks the thread to end (it cannot join itself);
  // a later stop() or the destructor, on another thread, joins.
  void stop() override;
  std::string describe() const override;

  // Why the last connect, bind or session failed ("" while none has): for
  // logs and status pages. Thread-safe.
  std::string last_error() const;

  static constexpr std::chrono::milliseconds k_backoff_initial{100};
  static constexpr std::chrono::milliseconds k_backoff_max{5000};
  static constexpr std::chrono::milliseconds k_healthy_session{1000};

 private:
  struct Connection;  // an LDAP handle whose socket stop() can shut down

  void run(const Callback& on_change);
  // The handle (ldap_connection.hpp), StartTLS and the simple bind; the
  // connection or why not.
  Result<std::unique_ptr<Connection>> connect_and_bind();
  // Waits `d` or until stop(); false when stopping.
  bool wait_backoff(std::chrono::milliseconds d);
  // Registers the socket so stop() can shut it down; false when stopping.
  bool register_socket(int fd);
  void unregister_socket();
  bool stopping() const;
  void request_stop();  // sets the flag, shuts the socket down, wakes a backoff
  void set_error(std::string message);

  LdapSettings m_settings;
  std::string m_base;
  std::string m_filter;

  mutable std::mutex m_mutex;  // guards the fields below
  std::condition_variable m_cv;
  bool m_stopping = false;
  int m_socket = -1;  // the live connection's fd, for shutdown() by stop()
  std::string m_last_error;

  std::mutex m_run_mutex;  // start()/stop() against each other
  std::thread m_thread;
  std::atomic<std::thread::id> m_thread_id{};  // the running thread's, for stop() from on_change
};

}  // namespace zmproxy::provisioning

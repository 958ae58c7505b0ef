#include "lib/provisioning/ldap_change_feed.hpp"

#include <pthread.h>

#include "lib/provisioning/ldap_connection.hpp"

#include <ldap.h>

#include <algorithm>
#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <utility>

namespace zmproxy::provisioning {
namespace {

// What the persist phase delivered during one ldap_sync_poll (or, with
// `persist` false, the refresh phase, whose entries are not reported one by
// one: the "refresh done"/"reconnected" callback covers them).
struct SyncState {
  bool persist = false;
  bool ended = false;  // a searchResultDone came: the sync request is over
  std::size_t changes = 0;
  std::string first;  // the first change, for the callback's text

  void note(std::string what) {
    if (changes++ == 0) {
      first = std::move(what);
    }
  }
  std::string describe() const {
    return changes > 1 ? first + " (+" + std::to_string(changes - 1) + " more)" : first;
  }
};

SyncState& state_of(ldap_sync_t* ls) {
  return *static_cast<SyncState*>(ls->ls_private);
}

// libldap (ldap_sync.c) hands the callbacks the head of ldap_result's chain,
// not the message at hand; with LDAP_MSG_RECEIVED that chain holds one
// message in practice. We only read the DN, which is harmless either way.
int on_search_entry(ldap_sync_t* ls,
                    LDAPMessage* msg,
                    berval* /*entry_uuid*/,
                    ldap_sync_refresh_t phase) {
  SyncState& st = state_of(ls);
  if (!st.persist || phase == LDAP_SYNC_CAPI_PRESENT) {
    return LDAP_SUCCESS;
  }
  std::string dn = "?";
  if (const LdapMemPtr raw(ldap_get_dn(ls->ls_ld, msg)); raw != nullptr) {
    dn = raw.get();
  }
  const char* verb = phase == LDAP_SYNC_CAPI_ADD      ? "added"
                     : phase == LDAP_SYNC_CAPI_MODIFY ? "modified"
                     : phase == LDAP_SYNC_CAPI_DELETE ? "deleted"
                                                      : "changed";
  st.note("entry " + dn + " " + verb);
  return LDAP_SUCCESS;
}

int on_intermediate(ldap_sync_t* ls,
                    LDAPMessage* /*msg*/,
                    BerVarray /*uuids*/,
                    ldap_sync_refresh_t phase) {
  SyncState& st = state_of(ls);
  if (st.persist) {
    // A syncIdSet in the persist phase: entries deleted (or, in theory, a
    // present set); either way the owner re-reads.
    st.note(phase == LDAP_SYNC_CAPI_DELETES_IDSET ? "entries deleted" : "entries changed");
  }
  return LDAP_SUCCESS;
}

int on_search_reference(ldap_sync_t* /*ls*/, LDAPMessage* /*msg*/) {
  return LDAP_SUCCESS;
}

int on_search_result(ldap_sync_t* ls, LDAPMessage* /*msg*/, int /*refresh_deletes*/) {
  // The search ended (the server gave up on the persist phase, or asked for
  // a full refresh): the loop re-syncs. libldap calls this only for success
  // and e-syncRefreshRequired; other codes come back as the return value of
  // ldap_sync_init/ldap_sync_poll.
  state_of(ls).ended = true;
  return LDAP_SUCCESS;
}

// Each of the space separated URLs parses (ldap://, ldaps://, ldapi://).
bool valid_url_list(std::string_view urls) {
  std::size_t count = 0;
  std::size_t pos = 0;
  while (pos < urls.size()) {
    const std::size_t start = urls.find_first_not_of(" \t", pos);
    if (start == std::string_view::npos) {
      break;
    }
    const std::size_t end = std::min(urls.find_first_of(" \t", start), urls.size());
    const std::string one(urls.substr(start, end - start));
    LDAPURLDesc* parsed = nullptr;
    const int rc = ldap_url_parse(one.c_str(), &parsed);
    ldap_free_urldesc(parsed);
    if (rc != LDAP_URL_SUCCESS) {
      return false;
    }
    ++count;
    pos = end;
  }
  return count > 0;
}

void drop_cookie(ldap_sync_t& ls) {
  if (ls.ls_cookie.bv_val != nullptr) {
    ber_memfree(ls.ls_cookie.bv_val);
  }
  ls.ls_cookie.bv_val = nullptr;
  ls.ls_cookie.bv_len = 0;
}

// In the feed's thread only: a write to a socket stop() shut down (or that
// the server closed) gives EPIPE instead of killing the process.
void block_sigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// A persist connection can die silently (a host gone, a NAT that forgot
// it): let TCP keepalive find out.
void set_keepalive(LDAP* ld) {
  const int idle = 60;
  const int probes = 3;
  const int interval = 10;
  ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_IDLE, &idle);
  ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_PROBES, &probes);
  ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_INTERVAL, &interval);
}

// libldap's sync request for the whole life of the feed's thread: a
// refreshAndPersist search of `base` with `filter` for DNs only (the owner
// re-reads what it needs), reporting to `state`, blocking in ldap_sync_poll
// (stop() wakes it through the socket). It keeps the cookie across
// connections.
class SyncRequest {
 public:
  SyncRequest(std::string base, std::string filter, SyncState& state)
      : m_base(std::move(base)), m_filter(std::move(filter)) {
    ldap_sync_initialize(&m_ls);
    m_ls.ls_base = m_base.data();
    m_ls.ls_scope = LDAP_SCOPE_SUBTREE;
    m_ls.ls_filter = m_filter.data();
    m_ls.ls_attrs = m_attrs;
    m_ls.ls_timeout = -1;
    m_ls.ls_search_entry = on_search_entry;
    m_ls.ls_search_reference = on_search_reference;
    m_ls.ls_intermediate = on_intermediate;
    m_ls.ls_search_result = on_search_result;
    m_ls.ls_private = &state;
  }
  ~SyncRequest() {
    // ldap_sync_destroy frees what it believes it owns: only the cookie is.
    m_ls.ls_base = nullptr;
    m_ls.ls_filter = nullptr;
    m_ls.ls_attrs = nullptr;
    m_ls.ls_ld = nullptr;
    ldap_sync_destroy(&m_ls, 0);
  }
  SyncRequest(const SyncRequest&) = delete;
  SyncRequest& operator=(const SyncRequest&) = delete;
  SyncRequest(SyncRequest&&) = delete;
  SyncRequest& operator=(SyncRequest&&) = delete;

  ldap_sync_t& get() { return m_ls; }

 private:
  std::string m_base;
  std::string m_filter;
  char m_no_attrs[4] = "1.1";
  char* m_attrs[2] = {m_no_attrs, nullptr};
  ldap_sync_t m_ls{};
};

// The refresh phase on ls.ls_ld: ldap_sync_init returns at refreshDone (or
// on an error). LDAP_SUCCESS, or why not.
int refresh(ldap_sync_t& ls, SyncState& state, const std::function<bool()>& stopping) {
  state = SyncState{};
  int rc = ldap_sync_init(&ls, LDAP_SYNC_REFRESH_AND_PERSIST);
  if (rc > 0 && ls.ls_cookie.bv_val != nullptr && !stopping()) {
    // The server refused our cookie: e-syncRefreshRequired, or "consumer
    // state is newer than provider" (unwillingToPerform) after it crashed
    // before checkpointing its contextCSN, or was restored from a backup.
    // Drop it and do a full refresh on the same connection.
    drop_cookie(ls);
    state = SyncState{};
    rc = ldap_sync_init(&ls, LDAP_SYNC_REFRESH_AND_PERSIST);
  }
  if (rc == LDAP_SUCCESS && state.ended) {
    rc = LDAP_OTHER;  // a searchResultDone instead of refreshDone: not persisting
  }
  return rc;
}

// The persist phase on ls.ls_ld: one callback per poll that brought changes,
// until the connection or the search ends (why, for last_error()) or the
// feed stops (nullopt).
std::optional<std::string> persist(ldap_sync_t& ls,
                                   SyncState& state,
                                   const std::string& url,
                                   const ChangeFeed::Callback& on_change,
                                   const std::function<bool()>& stopping) {
  state.persist = true;
  for (;;) {
    state.changes = 0;
    state.first.clear();
    const int rc = ldap_sync_poll(&ls);
    if (stopping()) {
      return std::nullopt;
    }
    if (state.changes > 0) {
      on_change(state.describe());
    }
    if (rc < 0) {
      return "lost the connection to " + url + ": " + ldap_reason(ls.ls_ld, LDAP_SERVER_DOWN);
    }
    if (rc == LDAP_SYNC_REFRESH_REQUIRED) {
      drop_cookie(ls);
      return "the LDAP server at " + url + " asked for a full refresh";
    }
    if (rc != LDAP_SUCCESS || state.ended) {
      // The search ended or a message did not parse: re-sync from the cookie.
      return "syncrepl on " + url + " ended: " + ldap_reason(ls.ls_ld, rc);
    }
  }
}

}  // namespace

// One LDAP handle. While it lives, its socket is registered with the feed so
// stop() can shut it down; it is unregistered before the handle (and so the
// fd) is closed.
struct LdapChangeFeed::Connection {
  Connection(LdapChangeFeed& f, LdapPtr h) : feed(f), ld(std::move(h)) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Connection(Connection&&) = delete;
  Connection& operator=(Connection&&) = delete;
  ~Connection() {
    if (registered) {
      feed.unregister_socket();
    }
  }  // then `ld` unbinds

  // The socket, once libldap has one, registered for stop(); "stopping" when
  // stop() came first.
  Result<void> register_socket() {
    int fd = -1;
    if (registered || ldap_get_option(ld.get(), LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS || fd < 0) {
      return {};
    }
    if (!feed.register_socket(fd)) {
      return fail(Errc::unavailable, "stopping");
    }
    registered = true;
    return {};
  }

  // Connect (bounded by timeout_seconds, not by stop()) and register the
  // socket before StartTLS waits on it; the StartTLS reply is bounded by
  // timeout_seconds too, nothing after it.
  Result<void> start_tls(const LdapSettings& s) {
    const int rc = ldap_connect(ld.get());
    if (rc != LDAP_SUCCESS) {
      return tl::unexpected(ldap_unreachable(s, ld.get(), rc));
    }
    ZMPROXY_TRY(register_socket());
    if (s.timeout_seconds > 0) {
      const timeval tv = ldap_timeval(s.timeout_seconds);
      ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &tv);
    }
    auto tls = start_ldap_tls(ld.get(), s);
    const timeval no_limit{-1, 0};  // libldap's "none" (a null pointer is refused)
    ldap_set_option(ld.get(), LDAP_OPT_TIMEOUT, &no_limit);
    return tls;
  }

  // The simple bind, sent without waiting so that the socket can be
  // registered before the reply is awaited (timeout_seconds at most).
  Result<void> bind(const LdapSettings& s) {
    berval cred = ldap_bind_password(s);
    int msgid = -1;
    int rc = ldap_sasl_bind(ld.get(), ldap_bind_dn(s), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr,
                            &msgid);
    if (rc != LDAP_SUCCESS) {
      return tl::unexpected(ldap_unreachable(s, ld.get(), rc));
    }
    ZMPROXY_TRY(register_socket());
    timeval tv = ldap_timeval(s.timeout_seconds);
    LDAPMessage* res_raw = nullptr;
    rc =
        ldap_result(ld.get(), msgid, LDAP_MSG_ALL, s.timeout_seconds > 0 ? &tv : nullptr, &res_raw);
    const LdapMessagePtr res(res_raw);
    if (rc == 0) {
      return fail(Errc::unavailable, "the LDAP server at " + s.url +
                                         " did not answer the bind within " +
                                         std::to_string(s.timeout_seconds) + " s");
    }
    if (rc < 0) {
      int err = LDAP_SERVER_DOWN;
      ldap_get_option(ld.get(), LDAP_OPT_RESULT_CODE, &err);
      return tl::unexpected(ldap_unreachable(s, ld.get(), err));
    }
    int err = LDAP_OTHER;
    char* diag_raw = nullptr;
    rc = ldap_parse_result(ld.get(), res.get(), &err, nullptr, &diag_raw, nullptr, nullptr, 0);
    const LdapMemPtr diag(diag_raw);
    if (rc != LDAP_SUCCESS) {
      return fail(Errc::unavailable,
                  "bad bind response from " + s.url + ": " + ldap_err2string(rc));
    }
    if (err != LDAP_SUCCESS) {
      std::string text = ldap_err2string(err);
      if (diag != nullptr && *diag != '\0' && text != diag.get()) {
        text += " (" + std::string(diag.get()) + ")";
      }
      return tl::unexpected(ldap_bind_refused(s, err, text));
    }
    return {};
  }

  LdapChangeFeed& feed;
  LdapPtr ld;
  bool registered = false;
};

LdapChangeFeed::LdapChangeFeed(LdapSettings settings, std::string base, std::string filter)
    : m_settings(std::move(settings)), m_base(std::move(base)), m_filter(std::move(filter)) {}

LdapChangeFeed::~LdapChangeFeed() {
  stop();
}

std::string LdapChangeFeed::describe() const {
  return "syncrepl on " + m_settings.url + " (base '" + m_base + "', filter " + m_filter + ")";
}

std::string LdapChangeFeed::last_error() const {
  const std::lock_guard lock(m_mutex);
  return m_last_error;
}

void LdapChangeFeed::set_error(std::string message) {
  const std::lock_guard lock(m_mutex);
  m_last_error = std::move(message);
}

bool LdapChangeFeed::stopping() const {
  const std::lock_guard lock(m_mutex);
  return m_stopping;
}

bool LdapChangeFeed::wait_backoff(std::chrono::milliseconds d) {
  std::unique_lock lock(m_mutex);
  return !m_cv.wait_for(lock, d, [this] { return m_stopping; });
}

bool LdapChangeFeed::register_socket(int fd) {
  const std::lock_guard lock(m_mutex);
  if (m_stopping) {
    return false;
  }
  m_socket = fd;
  return true;
}

void LdapChangeFeed::unregister_socket() {
  const std::lock_guard lock(m_mutex);
  m_socket = -1;
}

Result<void> LdapChangeFeed::start(Callback on_change) {
  const std::lock_guard run_lock(m_run_mutex);
  if (m_thread.joinable()) {
    return fail(Errc::invalid_argument, describe() + " runs already");
  }
  if (!valid_url_list(m_settings.url)) {
    return fail(Errc::invalid_argument, "ldap_url '" + m_settings.url +
                                            "' is not a valid LDAP URL; set it like "
                                            "ldap://host:389 in localconfig");
  }
  {
    const std::lock_guard lock(m_mutex);
    m_stopping = false;
    m_socket = -1;
    m_last_error.clear();
  }
  m_thread = std::thread([this, cb = std::move(on_change)] { run(cb); });
  return {};
}

void LdapChangeFeed::request_stop() {
  {
    const std::lock_guard lock(m_mutex);
    m_stopping = true;
    if (m_socket >= 0) {
      // Ends libldap's poll() on it (the refresh, ldap_sync_poll, the bind)
      // with an error. The fd stays open until the thread unbinds, which it
      // does only after unregistering under this mutex: no fd reuse race.
      ::shutdown(m_socket, SHUT_RDWR);
    }
  }
  m_cv.notify_all();
}

void LdapChangeFeed::stop() {
  if (m_thread_id.load() == std::this_thread::get_id()) {
    request_stop();  // from on_change: the thread ends when it returns; a later stop() joins
    return;
  }
  const std::lock_guard run_lock(m_run_mutex);  // the thread never takes it
  if (!m_thread.joinable()) {
    return;
  }
  request_stop();
  m_thread.join();
}

Result<std::unique_ptr<LdapChangeFeed::Connection>> LdapChangeFeed::connect_and_bind() {
  // timeout_seconds bounds the connect and the bind (0: no bound, as for
  // LdapStore); stop() interrupts both anyway. No LDAP_OPT_TIMEOUT:
  // ldap_sync_poll is to block until the server says something or stop()
  // shuts the socket down.
  auto handle = open_ldap_handle(m_settings, LdapTimeouts::connect);
  if (!handle) {
    return tl::unexpected(handle.error());
  }
  auto conn = std::make_unique<Connection>(*this, std::move(handle->ld));
  if (handle->policy.start_tls) {
    ZMPROXY_TRY(conn->start_tls(m_settings));
  } else {
    // Connect without blocking in connect(): the socket exists (and can be
    // shut down by stop()) as soon as ldap_sasl_bind returns.
    ldap_set_option(conn->ld.get(), LDAP_OPT_CONNECT_ASYNC, LDAP_OPT_ON);
  }
  set_keepalive(conn->ld.get());
  ZMPROXY_TRY(conn->bind(m_settings));
  return conn;
}

void LdapChangeFeed::run(const Callback& on_change) {
  const ThreadIdGuard guard(m_thread_id);
  block_sigpipe();

  SyncState state;
  SyncRequest request(m_base, m_filter, state);
  ldap_sync_t& ls = request.get();
  const std::function<bool()> is_stopping = [this] { return stopping(); };

  bool refreshed_once = false;
  bool wait_first = false;
  auto backoff = k_backoff_initial;
  while (!stopping()) {
    if (wait_first) {
      if (!wait_backoff(backoff)) {
        break;
      }
      backoff = std::min(backoff * 2, k_backoff_max);
    }
    wait_first = true;

    auto conn = connect_and_bind();
    if (!conn) {
      if (!stopping()) {
        set_error(conn.error().message);
      }
      continue;
    }
    ls.ls_ld = (*conn)->ld.get();

    const int rc = refresh(ls, state, is_stopping);
    if (rc != LDAP_SUCCESS) {
      if (!stopping()) {
        set_error(
            "syncrepl refresh on " + m_settings.url + " failed: " + ldap_reason(ls.ls_ld, rc) +
            (rc == LDAP_UNAVAILABLE_CRITICAL_EXTENSION ? "; the database needs the syncprov overlay"
                                                       : ""));
      }
      ls.ls_ld = nullptr;
      continue;
    }
    set_error({});
    on_change(refreshed_once ? "reconnected" : "refresh done");
    refreshed_once = true;

    const auto persist_since = std::chrono::steady_clock::now();
    if (auto why = persist(ls, state, m_settings.url, on_change, is_stopping)) {
      set_error(std::move(*why));
    }
    if (std::chrono::steady_clock::now() - persist_since >= k_healthy_session) {
      backoff = k_backoff_initial;  // it worked for a while: the next failure starts afresh
    }
    ls.ls_ld = nullptr;  // conn unbinds it
  }
}

}  // namespace zmproxy::provisioning

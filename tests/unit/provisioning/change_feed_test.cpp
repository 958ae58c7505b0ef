// ChangeFeed tests. FileChangeFeed runs everywhere. LdapChangeFeed's tests
// against a server run when ZMPROXY_TEST_LDAP_URL is set (under
// tests/integration/with_slapd.py, whose slapd has the syncprov overlay) and
// are tagged [directory] too so integration.ldap_directory runs them; without
// a server they SKIP. Callbacks are awaited with a condition variable and a
// deadline, never with sleeps.

#include "lib/provisioning/change_feed.hpp"

#include <unistd.h>

#include "lib/core/atomic_file.hpp"
#include "lib/core/home.hpp"
#include "lib/localconfig/localconfig.hpp"
#include "lib/provisioning/file_change_feed.hpp"
#include "lib/provisioning/ldap_change_feed.hpp"
#include "lib/provisioning/ldap_store.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <random>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <type_traits>
#include <vector>

namespace {

using namespace std::chrono_literals;
using zmproxy::Errc;
using zmproxy::Result;
using zmproxy::provisioning::ChangeFeed;
using zmproxy::provisioning::Entry;
using zmproxy::provisioning::FileChangeFeed;
using zmproxy::provisioning::LdapChangeFeed;
using zmproxy::provisioning::LdapSettings;
using zmproxy::provisioning::LdapStore;
using zmproxy::provisioning::ModOp;
using zmproxy::provisioning::open_change_feed;
using Clock = std::chrono::steady_clock;

constexpr auto k_deadline = 5s;    // for a callback to arrive
// A bound on hanging, not a timing: stop() must wake the feed's thread rather
// than wait for a poll timeout, an LDAP timeout or the next change (which
// would take minutes or forever). Generous so that a loaded machine passes.
constexpr auto k_prompt = 20s;

template <typename T>
T ok(Result<T> r) {
  if (!r) {
    FAIL("unexpected error: " << r.error().message);
  }
  if constexpr (!std::is_void_v<T>) {
    return std::move(*r);
  }
}

// Collects the callbacks; the test thread waits on it with a deadline.
class Recorder {
 public:
  // Runs on the feed's thread, after the event is recorded (for tests that
  // hold the feed inside a callback).
  std::function<void(std::string_view)> hook;

  ChangeFeed::Callback callback() {
    return [this](std::string_view what) {
      {
        const std::lock_guard lock(m_mutex);
        m_events.emplace_back(what);
      }
      m_cv.notify_all();
      if (hook) {
        hook(what);
      }
    };
  }

  // True once at least n callbacks came, false after the deadline.
  bool wait_count(std::size_t n) {
    std::unique_lock lock(m_mutex);
    return m_cv.wait_for(lock, k_deadline, [&] { return m_events.size() >= n; });
  }

  // True once a callback at index >= from contains `text`.
  bool wait_text(std::string_view text, std::size_t from = 0) {
    std::unique_lock lock(m_mutex);
    return m_cv.wait_for(lock, k_deadline, [&] {
      for (std::size_t i = from; i < m_events.size(); ++i) {
        if (m_events[i].find(text) != std::string::npos) {
          return true;
        }
      }
      return false;
    });
  }

  std::vector<std::string> events() const {
    const std::lock_guard lock(m_mutex);
    return m_events;
  }
  std::size_t count() const {
    const std::lock_guard lock(m_mutex);
    return m_events.size();
  }

 private:
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  std::vector<std::string> m_events;
};

// A one-shot gate: the feed's thread waits in a callback until the test opens it.
class Gate {
 public:
  void open() {
    {
      const std::lock_guard lock(m_mutex);
      m_open = true;
    }
    m_cv.notify_all();
  }
  bool wait() {
    std::unique_lock lock(m_mutex);
    return m_cv.wait_for(lock, k_deadline, [&] { return m_open; });
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_open = false;
};

template <typename F>
std::chrono::milliseconds time_of(F&& f) {
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::string(fallback);
}

LdapSettings ldap_settings() {
  LdapSettings s;
  s.url = env_or("ZMPROXY_TEST_LDAP_URL", "");
  s.bind_dn = env_or("ZMPROXY_TEST_LDAP_BIND_DN", "uid=zimbra,cn=admins,cn=zimbra");
  s.password = env_or("ZMPROXY_TEST_LDAP_PASSWORD", "zimbra");
  s.timeout_seconds = 10;
  return s;
}

// Catch2 v2 has no SKIP: the server tests say why and pass without a server.
bool on_ldap() {
  if (env_or("ZMPROXY_TEST_LDAP_URL", "").empty()) {
    WARN("skipped: ZMPROXY_TEST_LDAP_URL is not set (run under tests/integration/with_slapd.py)");
    return false;
  }
  return true;
}

std::string random_hex() {
  std::random_device rd;
  std::uniform_int_distribution<unsigned long long> dist;
  const unsigned long long n = dist(rd);
  static const char k_digits[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 12; ++i) {
    out.push_back(k_digits[(n >> (4 * i)) & 0xf]);
  }
  return out;
}

// A TCP socket listening on 127.0.0.1:<ephemeral>, closed at the end.
class Listener {
 public:
  Listener() {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (m_fd < 0 || ::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(m_fd, 4) != 0 ||
        ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      FAIL("cannot listen on 127.0.0.1");
    }
    m_port = ntohs(addr.sin_port);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  Listener(Listener&&) = delete;
  Listener& operator=(Listener&&) = delete;
  ~Listener() {
    if (m_peer >= 0) {
      ::close(m_peer);
    }
    ::close(m_fd);
  }
  std::string url() const { return "ldap://127.0.0.1:" + std::to_string(m_port); }
  // Blocks until a client connects (the feed's connect is under way).
  void accept_one() { m_peer = ::accept(m_fd, nullptr, nullptr); }
  bool accepted() const { return m_peer >= 0; }

 private:
  int m_fd = -1;
  int m_peer = -1;
  int m_port = 0;
};

}  // namespace

// ---------------------------------------------------------------------------
// FileChangeFeed

TEST_CASE("FileChangeFeed: start creates the directory and reports 'initial'", "[changefeed]") {
  const zmproxy::test::TempDir temp;
  const auto file = temp.path() / "home" / "data" / "prov.ldif";
  Recorder rec;  // declared first: outlives the feed's thread
  FileChangeFeed feed(file);
  CHECK(feed.describe().find(file.string()) != std::string::npos);
  ok(feed.start(rec.callback()));
  REQUIRE(rec.wait_count(1));
  CHECK(rec.events().front() == "initial");
  CHECK(std::filesystem::is_directory(file.parent_path()));
  feed.stop();
  CHECK(rec.count() == 1);
}

TEST_CASE("FileChangeFeed: an atomic rewrite gives a callback", "[changefeed]") {
  const zmproxy::test::TempDir temp;
  const auto file = temp.path() / "prov.ldif";
  Recorder rec;  // declared first: outlives the feed's thread
  FileChangeFeed feed(file);
  ok(feed.start(rec.callback()));
  REQUIRE(rec.wait_count(1));

  ok(zmproxy::core::write_file_atomic(file, "dn: cn=zimbra\ncn: zimbra\n"));
  REQUIRE(rec.wait_count(2));
  CHECK(rec.events()[1] == "prov.ldif replaced");

  ok(zmproxy::core::write_file_atomic(file, "dn: cn=zimbra\ncn: zimbra2\n"));
  REQUIRE(rec.wait_count(3));
  CHECK(rec.events()[2] == "prov.ldif replaced");

  std::filesystem::remove(file);
  REQUIRE(rec.wait_count(4));
  CHECK(rec.events()[3] == "prov.ldif removed");
}

TEST_CASE("FileChangeFeed: other files in the directory give no callback", "[changefeed]") {
  const zmproxy::test::TempDir temp;
  const auto file = temp.path() / "prov.ldif";
  Recorder rec;  // declared first: outlives the feed's thread
  FileChangeFeed feed(file);
  ok(feed.start(rec.callback()));
  REQUIRE(rec.wait_count(1));

  // Unrelated files first, then the file: inotify keeps the order, so had the
  // others counted, a callback (or an "(N events)" batch) would show it.
  ok(zmproxy::core::write_file_atomic(temp.path() / "other.ldif", "x\n"));
  ok(zmproxy::core::write_file_atomic(temp.path() / "prov.ldif.bak", "x\n"));
  std::filesystem::remove(temp.path() / "other.ldif");
  std::filesystem::create_directory(temp.path() / "sub");
  ok(zmproxy::core::write_file_atomic(temp.path() / "sub" / "prov.ldif", "x\n"));
  ok(zmproxy::core::write_file_atomic(file, "dn: cn=zimbra\n"));

  REQUIRE(rec.wait_text("prov.ldif", 1));
  const auto events = rec.events();
  REQUIRE(events.size() == 2);
  CHECK(events[1] == "prov.ldif replaced");
}

TEST_CASE("FileChangeFeed: a burst gives one callback", "[changefeed]") {
  const zmproxy::test::TempDir temp;
  const auto file = temp.path() / "prov.ldif";
  Recorder rec;  // declared first: outlive the feed's thread
  Gate gate;
  bool gate_waited = false;  // only the feed's thread touches it
  FileChangeFeed feed(file);
  rec.hook = [&](std::string_view what) {
    if (what != "initial" && !gate_waited) {
      gate_waited = true;
      gate.wait();  // hold the thread while the burst queues up
    }
  };
  ok(feed.start(rec.callback()));
  REQUIRE(rec.wait_count(1));

  ok(zmproxy::core::write_file_atomic(file, "1\n"));
  REQUIRE(rec.wait_count(2));  // the thread now waits in the gate
  for (int i = 0; i < 5; ++i) {
    ok(zmproxy::core::write_file_atomic(file, std::to_string(i) + "\n"));
  }
  gate.open();
  REQUIRE(rec.wait_count(3));
  CHECK(rec.events()[2] == "prov.ldif replaced (5 events)");

  // And nothing else was left behind: the next write is the next callback.
  ok(zmproxy::core::write_file_atomic(file, "last\n"));
  REQUIRE(rec.wait_count(4));
  const auto events = rec.events();
  CHECK(events.size() == 4);
  CHECK(events[3] == "prov.ldif replaced");
}

TEST_CASE("FileChangeFeed: a removed directory is created and watched again", "[changefeed]") {
  const zmproxy::test::TempDir temp;
  const auto dir = temp.path() / "data";
  const auto file = dir / "prov.ldif";
  Recorder rec;  // declared first: outlives the feed's thread
  FileChangeFeed feed(file);
  ok(feed.start(rec.callback()));
  REQUIRE(rec.wait_count(1));

  std::filesystem::remove_all(dir);
  REQUIRE(rec.wait_text("watched again", 1));
  CHECK(std::filesystem::is_directory(dir));
  const std::size_t before = rec.count();
  ok(zmproxy::core::write_file_atomic(file, "x\n"));
  REQUIRE(rec.wait_text("prov.ldif replaced", before));
}

TEST_CASE("FileChangeFeed: stop() is prompt and idempotent, start twice fails", "[changefeed]") {
  const zmproxy::test::TempDir temp;
  Recorder rec;  // declared first: outlives the feed's thread
  FileChangeFeed feed(temp.path() / "prov.ldif");
  feed.stop();  // not started: nothing to do
  ok(feed.start(rec.callback()));
  REQUIRE(rec.wait_count(1));

  const auto again = feed.start(rec.callback());
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == Errc::invalid_argument);

  CHECK(time_of([&] { feed.stop(); }) < k_prompt);
  feed.stop();

  // Startable again after a stop.
  ok(feed.start(rec.callback()));
  REQUIRE(rec.wait_count(2));
  CHECK(rec.events()[1] == "initial");
}

TEST_CASE("FileChangeFeed: stop() from the callback does not deadlock", "[changefeed]") {
  const zmproxy::test::TempDir temp;
  Recorder rec;
  auto feed = std::make_unique<FileChangeFeed>(temp.path() / "prov.ldif");
  FileChangeFeed* raw = feed.get();
  rec.hook = [raw](std::string_view) { raw->stop(); };
  ok(feed->start(rec.callback()));
  REQUIRE(rec.wait_count(1));
  CHECK(time_of([&] { feed.reset(); }) < k_prompt);  // the destructor joins
}

// ---------------------------------------------------------------------------
// open_change_feed

TEST_CASE("open_change_feed follows open_store's choice", "[changefeed]") {
  const zmproxy::test::TempDir temp;
  const zmproxy::core::HomePaths home{temp.path()};
  auto lc = ok(zmproxy::localconfig::LocalConfig::load(home.localconfig(), home.home));

  const auto file_feed = ok(open_change_feed(lc, home));
  CHECK(file_feed->describe() == "inotify on " + (home.data() / "prov.ldif").string());

  ok(lc.set("ldap_url", "ldap://127.0.0.1:1 ldap://127.0.0.1:2"));
  const auto ldap_feed = ok(open_change_feed(lc, home));
  const std::string d = ldap_feed->describe();
  CHECK(d.find("syncrepl on ldap://127.0.0.1:1 ") == 0);  // the first URL only
  CHECK(d.find("127.0.0.1:2") == std::string::npos);
}

// ---------------------------------------------------------------------------
// LdapChangeFeed without a server

TEST_CASE("LdapChangeFeed: start rejects a URL that is not LDAP", "[changefeed]") {
  for (const char* url : {"http://example.com", "", "ldap://ok:389 nonsense"}) {
    LdapSettings s;
    s.url = url;
    LdapChangeFeed feed(s);
    const auto r = feed.start([](std::string_view) {});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::invalid_argument);
  }
  LdapSettings list;
  list.url = "ldap://127.0.0.1:1 ldapi:///";  // a list is fine
  LdapChangeFeed feed(list);
  ok(feed.start([](std::string_view) {}));
  feed.stop();
}

TEST_CASE("LdapChangeFeed: stop() is prompt while the server does not answer", "[changefeed]") {
  Listener server;  // accepts the TCP connection, never answers the bind
  LdapSettings s;
  s.url = server.url();
  s.bind_dn = "uid=zimbra,cn=admins,cn=zimbra";
  s.password = "zimbra";
  s.timeout_seconds = 30;
  Recorder rec;  // declared first: outlives the feed's thread
  LdapChangeFeed feed(s);
  ok(feed.start(rec.callback()));
  server.accept_one();
  REQUIRE(server.accepted());
  CHECK(time_of([&] { feed.stop(); }) < k_prompt);
  CHECK(rec.count() == 0);
}

TEST_CASE("LdapChangeFeed: stop() is prompt while no server listens", "[changefeed]") {
  std::string url;
  {
    const Listener gone;  // a port that was free a moment ago
    url = gone.url();
  }
  LdapSettings s;
  s.url = url;
  Recorder rec;  // declared first: outlives the feed's thread
  LdapChangeFeed feed(s);
  ok(feed.start(rec.callback()));
  CHECK(time_of([&] { feed.stop(); }) < k_prompt);
  CHECK(rec.count() == 0);
}

// ---------------------------------------------------------------------------
// LdapChangeFeed against slapd (with_slapd.py)

TEST_CASE("LdapChangeFeed: refresh, then a callback per change", "[changefeed][directory]") {
  if (!on_ldap()) {
    return;
  }
  auto store = ok(LdapStore::connect(ldap_settings()));
  const Result<void> top = store->add(
      Entry{"dc=test",
            {{"objectClass", {"dcObject", "organization"}}, {"dc", {"test"}}, {"o", {"test"}}}});
  if (!top && top.error().code != Errc::already_exists) {
    FAIL("cannot create dc=test: " << top.error().message);
  }

  Recorder rec;                          // declared first: outlives the feed's thread
  LdapChangeFeed feed(ldap_settings());  // base "": the whole null-suffix database
  ok(feed.start(rec.callback()));
  REQUIRE(rec.wait_count(1));
  CHECK(rec.events().front() == "refresh done");
  CHECK(feed.last_error().empty());

  const std::string name = "t" + random_hex();
  const std::string dn = "dc=" + name + ",dc=test";
  std::size_t from = rec.count();
  ok(store->add(Entry{
      dn,
      {{"objectClass", {"dcObject", "organization"}}, {"dc", {name}}, {"o", {name + ".test"}}}}));
  REQUIRE(rec.wait_text("entry " + dn + " added", from));

  from = rec.count();
  ok(store->modify(dn, {{ModOp::replace, "description", {"changed"}}}));
  REQUIRE(rec.wait_text("entry " + dn + " modified", from));

  from = rec.count();
  ok(store->remove(dn));
  REQUIRE(rec.wait_text("entry " + dn + " deleted", from));

  CHECK(time_of([&] { feed.stop(); }) < k_prompt);  // blocked in ldap_sync_poll
}

TEST_CASE("LdapChangeFeed: a base and a filter narrow the feed", "[changefeed][directory]") {
  if (!on_ldap()) {
    return;
  }
  auto store = ok(LdapStore::connect(ldap_settings()));
  const Result<void> top = store->add(
      Entry{"dc=test",
            {{"objectClass", {"dcObject", "organization"}}, {"dc", {"test"}}, {"o", {"test"}}}});
  if (!top && top.error().code != Errc::already_exists) {
    FAIL("cannot create dc=test: " << top.error().message);
  }
  const std::string name = "t" + random_hex();
  const std::string base = "dc=" + name + ",dc=test";
  const std::string other = "dc=" + name + "x,dc=test";
  for (const std::string& dc : {name, name + "x"}) {
    ok(store->add(Entry{
        "dc=" + dc + ",dc=test",
        {{"objectClass", {"dcObject", "organization"}}, {"dc", {dc}}, {"o", {dc + ".test"}}}}));
  }

  Recorder rec;  // declared first: outlives the feed's thread
  LdapChangeFeed feed(ldap_settings(), base, "(objectClass=organizationalUnit)");
  ok(feed.start(rec.callback()));
  REQUIRE(rec.wait_count(1));
  CHECK(rec.events().front() == "refresh done");

  // Outside the base, then not matching the filter, then a match: only the
  // match is reported (in order, so the others would have shown up first).
  ok(store->modify(other, {{ModOp::replace, "description", {"changed"}}}));
  ok(store->modify(base, {{ModOp::replace, "description", {"changed"}}}));
  const std::string ou = "ou=people," + base;
  ok(store->add(Entry{ou, {{"objectClass", {"organizationalUnit"}}, {"ou", {"people"}}}}));
  REQUIRE(rec.wait_text("entry " + ou + " added", 1));
  const auto events = rec.events();
  CHECK(events.size() == 2);

  feed.stop();
  (void)store->remove(ou);
  (void)store->remove(base);
  (void)store->remove(other);
}

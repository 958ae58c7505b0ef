#pragma once
// ProxyServer's state, shared by the files that make the server: listeners
// and the accept loop (listeners.cpp), reload (reload.cpp), the control
// thread: run, control socket, signals, drain (proxy_server.cpp). Private to
// lib/server; brings Asio.

#include "lib/net/asio.hpp"
#include "lib/net/sockmap_relay.hpp"
#include "lib/net/sockmap_support.hpp"
#include "lib/proxy/connection_slot.hpp"
#include "lib/proxy/counters.hpp"
#include "lib/proxy/generation.hpp"
#include "lib/proxy/peer_connections.hpp"
#include "lib/server/generation.hpp"
#include "lib/server/proxy_server.hpp"
#include "lib/tls/ktls.hpp"

#include <atomic>
#include <chrono>
#include <ctime>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace zmproxy::server {

namespace asio = net::asio;
using asio::awaitable;
using net::tcp;
using proxy::Generation;

struct Worker {
  // Before `io`: sessions and relays destroyed with the io_context still
  // give their ConnectionSlot back to it.
  std::atomic<std::int64_t> connections{0};
  asio::io_context io{1};
  std::thread thread;
};

// The log lines of connections refused on a PROXY protocol listener: at most
// k_per_second a second, the others counted into the next line written.
class RefusalLog {
 public:
  static constexpr std::uint32_t k_per_second = 10;
  // Whether to write this refusal's line; `unwritten`: the refusals not
  // written since the last line.
  bool admit(std::uint64_t& unwritten) noexcept {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    if (m_second.exchange(now) != now) {
      m_lines = 0;
    }
    if (m_lines.fetch_add(1) >= k_per_second) {
      m_unwritten.fetch_add(1);
      return false;
    }
    unwritten = m_unwritten.exchange(0);
    return true;
  }

 private:
  std::atomic<std::int64_t> m_second{0};
  std::atomic<std::uint32_t> m_lines{0};
  std::atomic<std::uint64_t> m_unwritten{0};
};

// The log line of connections refused over server.worker_connections: at
// most one a second, each saying how many were refused since the one before
// (a flood at the limit would otherwise write a line per connection).
class WorkerLimitLog {
 public:
  // Counts one refusal at now_ms (steady); true when a line is due, with
  // `since`: the refusals since the last line, this one included.
  bool refused(std::int64_t now_ms, std::uint64_t& since) noexcept {
    m_since.fetch_add(1, std::memory_order_relaxed);
    std::int64_t last = m_last_ms.load(std::memory_order_relaxed);
    if (now_ms - last < 1000 || !m_last_ms.compare_exchange_strong(last, now_ms)) {
      return false;
    }
    since = m_since.exchange(0);
    return true;
  }

 private:
  std::atomic<std::int64_t> m_last_ms{std::numeric_limits<std::int64_t>::min() / 2};
  std::atomic<std::uint64_t> m_since{0};
};

// One listening port: an acceptor per worker (SO_REUSEPORT).
struct Listener {
  ListenerSpec spec;
  int bound_port = 0;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  bool accepting = false;  // the accept loops run
};

struct ProxyServer::Impl {
  std::filesystem::path file;
  std::filesystem::path home;
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<std::shared_ptr<const Generation>> current;
  // Every generation's sessions count here (proxy/counters.hpp): STATUS reads it.
  std::shared_ptr<proxy::Counters> counters = std::make_shared<proxy::Counters>();
  std::vector<Listener> listeners;  // control thread only
  std::mutex reload_mutex;
  std::uint64_t generation = 0;
  std::uint64_t reloads = 0;
  std::time_t started = std::time(nullptr);
  std::string last_reload_result = "none";
  std::string last_reload_message;
  std::time_t last_reload_at = 0;
  asio::io_context control;
  proxy::PeerConnections peers;         // open connections per client address
  std::optional<process::ServiceUser> run_as;    // become this user after the first bind
  std::atomic<std::uint64_t> refused_per_ip{0};
  RefusalLog proxy_protocol_refusals;  // PROXY protocol listeners (listeners.cpp)
  WorkerLimitLog worker_limit_log;     // connections over server.worker_connections
  bool stopping = false;
  std::chrono::milliseconds grace{0};
  tls::KernelTls kernel_tls;  // what the kernel can do for tls.ktls, found at start
  // The kernel relay (issue 18): loaded at start, while root, when
  // server.kernel_relay is on; generations point at it while it stays on.
  // Sessions using it live in the workers, cleared before this goes.
  std::unique_ptr<net::SockmapRelay> kernel_relay;
  net::KernelRelayState kernel_relay_state = net::KernelRelayState::off;
  std::string kernel_relay_why;  // why not ready, one line

  // The generation sessions start with now; one is published before any
  // listener accepts.
  std::shared_ptr<const Generation> published() const;

  // listeners.cpp
  awaitable<void> accept_loop(Worker& w, std::shared_ptr<tcp::acceptor> acceptor, Protocol protocol);
  // `peer`: the client's address from accept4; `local`: the listener's,
  // unless it listens on a wildcard address (then the session asks).
  void take(Worker& w, tcp::socket socket, Protocol protocol, const tcp::endpoint& peer,
            const std::optional<tcp::endpoint>& local);
  // A connection over server.worker_connections: counted, told (where the
  // protocol speaks first in clear), closed; one log line a second at most.
  void refuse_over_worker_limit(tcp::socket& socket, Protocol protocol, int limit);
  bool admit_per_ip(tcp::socket& socket, const tcp::endpoint& client, Protocol protocol, int per_ip,
                    proxy::PeerConnections::Key& key);
  void take_proxied(Worker& w, std::shared_ptr<const Generation> shared, tcp::socket socket,
                    Protocol protocol, const tcp::endpoint& peer, const std::optional<tcp::endpoint>& local);
  awaitable<void> proxied_session(std::shared_ptr<const Generation> shared, tcp::socket socket,
                                  Protocol protocol, proxy::ConnectionSlot slot, tcp::endpoint balancer,
                                  std::optional<tcp::endpoint> local);
  // Counts a connection a PROXY protocol listener closes (proxy_refused) and
  // logs it, at most RefusalLog::k_per_second lines a second.
  void log_proxy_refusal(Protocol protocol, const tcp::endpoint& peer, std::string_view why);
  Result<Listener> open_listener(const ListenerSpec& spec, const std::string& config_file);
  static void close_listener(Listener& l, bool wait = false);
  void start_listener(Listener& l);
  void write_addresses();

  // reload.cpp
  Result<std::string> apply(std::shared_ptr<const config::ProxyConfig> config);
  Result<std::vector<Listener>> open_wanted(const std::vector<ListenerSpec>& wanted,
                                            std::vector<bool>& kept, const std::string& config_file);
  void commit(std::shared_ptr<Generation> next, std::vector<Listener> opened,
              const std::vector<bool>& kept);
  std::string reload(std::string_view why, const std::filesystem::path& candidate = {});
  Result<std::shared_ptr<const config::ProxyConfig>> load_candidate(
      const std::filesystem::path& candidate);

  // proxy_server.cpp
  std::string status();
  std::string command(std::string_view line);
  awaitable<void> trim_memory();
  void reopen_logs();
  std::int64_t active_sessions() const { return counters->active(); }
  void begin_stop(std::chrono::milliseconds drain, std::string_view why);
  awaitable<void> drain_then_stop();
};

}  // namespace zmproxy::server

#include "lib/server/proxy_server.hpp"

#include <malloc.h>
#include <unistd.h>

#include "lib/core/atomic_file.hpp"
#include "lib/core/json.hpp"
#include "lib/log/logger.hpp"
#include "lib/proxy/http/session.hpp"
#include "lib/proxy/imap/client_session.hpp"
#include "lib/proxy/generation.hpp"
#include "lib/proxy/pop3/client_session.hpp"
#include "lib/route/route_resolver.hpp"
#include "lib/net/control_socket.hpp"
#include "lib/server/generation.hpp"
#include "lib/process/service_user.hpp"
#include "lib/net/accept_backoff.hpp"
#include "lib/proxy/peer_connections.hpp"

#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <array>
#include <csignal>
#include <future>
#include <ctime>
#include <mutex>
#include <thread>

namespace zmproxy::server {

using config::ProxyConfig;
using config::StartTls;

namespace {

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

proxy::PeerConnections::Key peer_key(const tcp::endpoint& peer) {
  const auto a = peer.address();
  const auto v6 = a.is_v6() ? a.to_v6() : asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4());
  return proxy::PeerConnections::client_key(v6.to_bytes());
}

// What a client over the per-address cap is told before the close: the
// protocol's own "try later" where it speaks first in clear; TLS listeners
// close without a handshake. One non-blocking send, never a wait.
std::string_view over_cap_reply(Protocol protocol) {
  switch (protocol) {
    case Protocol::imap:
      return "* BYE [UNAVAILABLE] too many connections from your address\r\n";
    case Protocol::pop3:
      return "-ERR [SYS/TEMP] too many connections from your address\r\n";
    case Protocol::http:
      return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
             "Content-Length: 40\r\nRetry-After: 10\r\nConnection: close\r\n\r\n"
             "too many connections from your address\r\n";
    default:
      return {};
  }
}

// One listening port: an acceptor per worker (SO_REUSEPORT).
struct Listener {
  ListenerSpec spec;
  int bound_port = 0;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  bool accepting = false;  // the accept loops run
};

}  // namespace

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
  bool stopping = false;
  std::chrono::milliseconds grace{0};

  awaitable<void> accept_loop(Worker& w,
                              std::shared_ptr<tcp::acceptor> acceptor,
                              Protocol protocol) {
    net::AcceptBackoff backoff;
    while (true) {
      auto [ec, socket] = co_await acceptor->async_accept(net::use_nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) {
          co_return;
        }
        // Out of descriptors and the like: pause (growing up to 1 s) rather
        // than spin on a listening socket that stays readable.
        const auto pause = backoff.after_failure(ec.value());
        if (backoff.first_failure()) {
          ZMPROXY_LOG(warn, "proxy", "cannot accept {} connections: {}; pausing accepts",
                      protocol_name(protocol), ec.message());
        }
        asio::steady_timer t(w.io);
        t.expires_after(pause);
        co_await t.async_wait(net::use_nothrow);
        continue;
      }
      if (backoff.after_success()) {
        ZMPROXY_LOG(info, "proxy", "accepting {} connections again", protocol_name(protocol));
      }
      std::shared_ptr<const Generation> shared = current.load(std::memory_order_acquire);
      const int limit = shared->config->server.worker_connections;
      if (w.connections.load() >= limit) {
        ZMPROXY_LOG(warn, "proxy", "worker connection limit {} reached; refusing a connection",
                    limit);
        continue;  // the socket closes here
      }
      const int per_ip = shared->config->server.max_connections_per_ip;
      proxy::PeerConnections::Key key{};
      if (per_ip > 0) {
        boost::system::error_code pec;
        const auto peer = socket.remote_endpoint(pec);
        if (pec) {
          continue;  // gone already
        }
        key = peer_key(peer);
        if (!peers.try_add(key, per_ip)) {
          if (refused_per_ip++ % 1000 == 0) {
            ZMPROXY_LOG(warn, "proxy",
                        "{} holds {} connections (server.max_connections_per_ip); refusing more "
                        "({} refused so far)",
                        peer.address().to_string(), per_ip, refused_per_ip.load());
          }
          const std::string_view reply = over_cap_reply(protocol);
          if (!reply.empty()) {
            [[maybe_unused]] const auto sent = ::send(socket.native_handle(), reply.data(),
                                                      reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
          }
          continue;  // the socket closes here
        }
      }
      w.connections++;
      proxy::ProtocolCounters& pc = shared->counters->of(protocol);
      pc.active++;
      pc.accepted++;
      // The slot goes with the session, and with its relay after login.
      proxy::ConnectionSlot slot(&w.connections, &pc.active);
      if (per_ip > 0) {
        slot.hold_peer(&peers, key);
      }
      auto done = [](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            ZMPROXY_LOG(error, "proxy", "session ended with an error: {}", ex.what());
          } catch (...) {
            ZMPROXY_LOG(error, "proxy", "session ended with an unknown error");
          }
        }
      };
      switch (protocol) {
        case Protocol::imap:
        case Protocol::imaps:
          asio::co_spawn(w.io,
                         proxy::imap::run_session(shared, std::move(socket),
                                                  protocol == Protocol::imaps, std::move(slot)),
                         done);
          break;
        case Protocol::pop3:
        case Protocol::pop3s:
          asio::co_spawn(w.io,
                         proxy::pop3::run_session(shared, std::move(socket),
                                                  protocol == Protocol::pop3s, std::move(slot)),
                         done);
          break;
        case Protocol::http:
        case Protocol::https:
          asio::co_spawn(w.io,
                         proxy::http::run_session(shared, std::move(socket),
                                                  protocol == Protocol::https, std::move(slot)),
                         done);
          break;
        case Protocol::admin:
          asio::co_spawn(
              w.io,
              proxy::http::run_session(shared, std::move(socket), true, std::move(slot), true),
              done);
          break;
      }
    }
  }

  Result<Listener> open_listener(const ListenerSpec& spec, const std::string& config_file) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(spec.address, ec);
    if (ec) {
      return fail(Errc::invalid_argument,
                  "server.bind_address '" + spec.address + "' is not an IP address");
    }
    Listener l{spec, spec.port, {}, false};
    for (auto& w : workers) {
      auto acceptor = std::make_shared<tcp::acceptor>(w->io);
      tcp::endpoint ep(address, static_cast<unsigned short>(l.bound_port));
      acceptor->open(ep.protocol(), ec);
      if (!ec) {
        acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
        const int one = 1;
        ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        acceptor->bind(ep, ec);
      }
      if (!ec) {
        acceptor->listen(asio::socket_base::max_listen_connections, ec);
      }
      if (ec) {
        return fail(
            Errc::io_error,
            fmt::format("cannot listen for {} on {}:{}: {}; free the port or change {} in {}",
                        protocol_name(spec.protocol), spec.address, spec.port, ec.message(),
                        spec.attribute, config_file));
      }
      // Port 0: the first worker's port is everyone's.
      l.bound_port = acceptor->local_endpoint().port();
      l.acceptors.push_back(std::move(acceptor));
    }
    return l;
  }

  // Close a listener's acceptors, each on its own worker. With `wait`, return
  // once every worker has closed its acceptor (at most 2 s), so that the next
  // reload can bind the port again: a close still queued kept the port, and
  // sockets made before the drop to the service user are root's, which
  // SO_REUSEPORT will not share with the user's.
  static void close_listener(Listener& l, bool wait = false) {
    std::vector<std::future<void>> closed;
    for (auto& a : l.acceptors) {
      auto done = std::make_shared<std::promise<void>>();
      closed.push_back(done->get_future());
      asio::post(a->get_executor(), [a, done] {
        boost::system::error_code ignored;
        a->close(ignored);
        done->set_value();
      });
    }
    l.acceptors.clear();
    for (auto& f : closed) {
      if (wait && f.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
        ZMPROXY_LOG(warn, "proxy", "a worker did not close its listener within 2 s");
      }
    }
  }

  void start_listener(Listener& l) {
    for (std::size_t i = 0; i < workers.size(); ++i) {
      asio::co_spawn(workers[i]->io, accept_loop(*workers[i], l.acceptors[i], l.spec.protocol),
                     asio::detached);
    }
  }

  void write_addresses() {
    std::string addresses;
    for (const Listener& l : listeners) {
      addresses +=
          fmt::format("{} {}:{}\n", protocol_name(l.spec.protocol), l.spec.address, l.bound_port);
    }
    std::error_code fec;
    std::filesystem::create_directories(home / "run", fec);
    (void)core::write_file_atomic(home / "run" / "zmproxyd.addr", addresses);
  }

  // Load, validate, bind, then commit; nothing changes unless all succeed.
  Result<std::string> apply(std::shared_ptr<const ProxyConfig> config) {
    std::shared_ptr<const Generation> previous = current.load();
    if (previous && previous->config->server.workers != config->server.workers) {
      ZMPROXY_LOG(warn, "proxy",
                  "server.workers changed from {} to {}: takes effect at the next restart",
                  previous->config->server.workers, config->server.workers);
    }
    auto built = build_generation(config, previous);
    if (!built) {
      return tl::unexpected(built.error());
    }
    (*built)->counters = counters;
    std::shared_ptr<Generation> next = std::move(*built);
    // Keep the listeners that did not change; bind the new ones first.
    const std::vector<ListenerSpec> wanted = listener_specs(*config, next->server_tls != nullptr);
    std::vector<Listener> kept;
    std::vector<Listener> opened;
    std::vector<bool> reused(listeners.size(), false);
    for (const ListenerSpec& spec : wanted) {
      bool found = false;
      for (std::size_t i = 0; i < listeners.size(); ++i) {
        if (!reused[i] && listeners[i].spec.same_socket(spec)) {
          reused[i] = true;
          found = true;
          break;
        }
      }
      if (found) {
        continue;
      }
      // A port we hold for another protocol cannot change hands in one step:
      // for a moment both would share it (SO_REUSEPORT). A port we do not
      // hold must not be shared with another program either.
      Result<void> free = {};
      for (const Listener& l : listeners) {
        if (spec.port != 0 && l.spec.address == spec.address && l.spec.port == spec.port) {
          free =
              fail(Errc::invalid_argument,
                   fmt::format(
                       "port {} moves from {} to {} ({}): do it in two reloads (move {} elsewhere "
                       "first) or restart",
                       spec.port, protocol_name(l.spec.protocol), protocol_name(spec.protocol),
                       spec.attribute, protocol_name(l.spec.protocol)));
        }
      }
      if (free && spec.port != 0) {
        free = probe_port(spec);
      }
      auto l = free ? open_listener(spec, config->file.string())
                    : Result<Listener>(tl::unexpected(free.error()));
      if (!l) {
        for (Listener& o : opened) {
          close_listener(o);
        }
        return tl::unexpected(l.error());
      }
      opened.push_back(std::move(*l));
    }
    // Commit.
    std::vector<Listener> next_listeners;
    for (std::size_t i = 0; i < listeners.size(); ++i) {
      if (reused[i]) {
        next_listeners.push_back(std::move(listeners[i]));
      } else {
        ZMPROXY_LOG(info, "proxy", "closing the {} listener on {}:{}",
                    protocol_name(listeners[i].spec.protocol), listeners[i].spec.address,
                    listeners[i].bound_port);
        close_listener(listeners[i], true);
      }
    }
    for (Listener& l : opened) {
      ZMPROXY_LOG(info, "proxy", "listening for {} on {}:{}", protocol_name(l.spec.protocol),
                  l.spec.address, l.bound_port);
      next_listeners.push_back(std::move(l));
    }
    listeners = std::move(next_listeners);
    for (const Listener& l : listeners) {
      if (l.spec.protocol == Protocol::http) {
        next->http_port = l.bound_port;
      } else if (l.spec.protocol == Protocol::https) {
        next->https_port = l.bound_port;
      }
    }
    current.store(std::shared_ptr<const Generation>(next), std::memory_order_release);
    for (Listener& l : listeners) {
      if (!l.accepting) {
        start_listener(l);
        l.accepting = true;
      }
    }
    apply_logging(*config, previous ? previous->config.get() : nullptr);
    write_addresses();
    ++generation;
    return fmt::format("generation {} version {}", generation, config->version);
  }

  // `candidate`: a new configuration file that replaces `file` (renamed
  // over it) only when it is accepted, so the file on disk is always the
  // last good one. Empty: read `file` again.
  std::string reload(std::string_view why, const std::filesystem::path& candidate = {}) {
    std::lock_guard lock(reload_mutex);
    auto config = candidate.empty() ? config::load_config(file, home) : load_candidate(candidate);
    Result<std::string> r = config ? apply(*config) : tl::unexpected(config.error());
    if (r && !candidate.empty()) {
      std::error_code fec;
      std::filesystem::rename(candidate, file, fec);
      if (fec) {
        // Memory and disk differ now: say so, loudly, in the reply too.
        *r +=
            fmt::format(" (warning: cannot move {} over {}: {}; a restart would read the old file)",
                        candidate.string(), file.string(), fec.message());
        ZMPROXY_LOG(warn, "proxy", "serving {}, but cannot move it over {}: {}", candidate.string(),
                    file.string(), fec.message());
      }
    }
    ++reloads;
    last_reload_at = std::time(nullptr);
    if (r) {
      last_reload_result = "ok";
      last_reload_message = *r;
      ZMPROXY_LOG(info, "proxy", "reload ({}): {}", why, *r);
      return "OK " + *r;
    }
    last_reload_result = "error";
    last_reload_message = r.error().message;
    ZMPROXY_LOG(error, "proxy", "reload ({}) refused, still serving the previous configuration: {}",
                why, r.error().message);
    return "ERROR " + r.error().message;
  }

  // A candidate replaces `file`: it must sit next to it (the rename is
  // atomic then), and its errors name `file`, the one an admin knows.
  Result<std::shared_ptr<const ProxyConfig>> load_candidate(
      const std::filesystem::path& candidate) {
    if (candidate.parent_path() != file.parent_path()) {
      return fail(Errc::invalid_argument,
                  "RELOAD " + candidate.string() + ": a candidate configuration must be in " +
                      file.parent_path().string() + ", next to " + file.filename().string());
    }
    auto text = core::read_file(candidate);
    if (!text) {
      return tl::unexpected(text.error());
    }
    return config::parse_config(*text, file, home);
  }

  std::string status_json() {
    std::lock_guard lock(reload_mutex);
    auto shared = current.load();
    std::string out = "{\"running\":true";
    out += fmt::format(",\"pid\":{},\"uptime_seconds\":{},\"started\":{}", ::getpid(),
                       std::time(nullptr) - started, core::json_quote(core::utc_iso8601(started)));
    out += ",\"user\":" + core::json_quote(run_as ? run_as->name : std::to_string(::geteuid()));
    out += ",\"config_file\":" + core::json_quote(file.string());
    out += ",\"config_version\":" + core::json_quote(shared ? shared->config->version : "");
    out += fmt::format(",\"generation\":{},\"reloads\":{}", generation, reloads);
    out += ",\"last_reload\":{\"result\":" + core::json_quote(last_reload_result) +
           ",\"message\":" + core::json_quote(last_reload_message) +
           ",\"at\":" + core::json_quote(last_reload_at ? core::utc_iso8601(last_reload_at) : "") +
           "}";
    out += ",\"listeners\":{";
    bool first = true;
    for (const Listener& l : listeners) {
      out += fmt::format("{}\"{}\":{}", first ? "" : ",", protocol_name(l.spec.protocol),
                         core::json_quote(l.spec.address + ":" + std::to_string(l.bound_port)));
      first = false;
    }
    const struct mallinfo2 mi = ::mallinfo2();
    out += fmt::format("}},\"memory\":{{\"heap_in_use\":{},\"heap_free\":{},\"mmapped\":{}}}",
                       mi.uordblks, mi.fordblks, mi.hblkhd);
    out += ",\"connections\":{";
    for (std::size_t i = 0; i < proxy::k_protocol_count; ++i) {
      const auto protocol = static_cast<Protocol>(i);
      out += fmt::format("{}\"{}\":{{", i ? "," : "", protocol_name(protocol));
      const char* sep = "";
      counters->of(protocol).each([&](const char* name, const char*, std::int64_t value) {
        out += fmt::format("{}\"{}\":{}", sep, name, value);
        sep = ",";
      });
      out += "}";
    }
    out += "}}";
    return out;
  }

  // Give memory freed by finished logins back to the system. A login's
  // coroutine frames are much larger than the relay that outlives it, and
  // the allocator keeps their pages; without this an idle proxy's RSS stays at
  // its login burst's peak. Runs only when connections came or went.
  awaitable<void> trim_memory() {
    asio::steady_timer t(control);
    // Connections came (accepted grew) or went (active changed).
    std::pair<std::uint64_t, std::int64_t> seen{0, 0};
    while (!stopping) {
      t.expires_after(std::chrono::milliseconds(500));
      co_await t.async_wait(net::use_nothrow);
      const std::pair<std::uint64_t, std::int64_t> now{counters->accepted(), counters->active()};
      if (now != seen) {
        seen = now;
        ::malloc_trim(0);
      }
    }
  }

  // SIGUSR1 (logrotate): the error log and the access log are opened again
  // under their names; what was written goes on in the renamed files.
  void reopen_logs() {
    const bool error_log = log::reopen_file();
    auto shared = current.load();
    const bool access_log = !shared || !shared->access_log || shared->access_log->reopen();
    if (!error_log || !access_log) {
      ZMPROXY_LOG(error, "proxy", "SIGUSR1: cannot reopen the {} log; still writing the old file "
                  "(does user {} own log/?)", error_log ? "access" : "error",
                  run_as ? run_as->name : std::string("of this process"));
      return;
    }
    ZMPROXY_LOG(info, "proxy", "SIGUSR1: log files reopened");
  }

  std::int64_t active_sessions() const {
    return counters->active();
  }

  void begin_stop(std::chrono::milliseconds drain, std::string_view why) {
    if (stopping) {
      return;
    }
    stopping = true;
    grace = drain;
    ZMPROXY_LOG(info, "proxy", "stopping ({}): {} open sessions, waiting up to {} ms for them", why,
                active_sessions(), drain.count());
    for (Listener& l : listeners) {
      close_listener(l);
    }
    listeners.clear();
    std::error_code fec;
    std::filesystem::remove(home / "run" / "zmproxyd.addr", fec);
    asio::co_spawn(control, drain_then_stop(), asio::detached);
  }

  awaitable<void> drain_then_stop() {
    const auto deadline = std::chrono::steady_clock::now() + grace;
    asio::steady_timer t(control);
    while (active_sessions() > 0 && std::chrono::steady_clock::now() < deadline) {
      t.expires_after(std::chrono::milliseconds(50));
      co_await t.async_wait(net::use_nothrow);
    }
    if (active_sessions() > 0) {
      ZMPROXY_LOG(info, "proxy", "drain time over: closing {} open sessions", active_sessions());
    }
    control.stop();
  }

  std::string command(std::string_view line) {
    const std::string_view verb = line.substr(0, line.find(' '));
    if (verb == "RELOAD") {
      if (stopping) {
        return "ERROR zmproxyd is stopping";
      }
      const std::string_view arg = line.size() > 7 ? line.substr(7) : std::string_view();
      return reload("control socket", std::filesystem::path(arg));
    }
    if (verb == "STATUS") {
      return status_json();
    }
    if (verb == "STOP") {
      auto drain = current.load()->config->server.drain_timeout;
      if (line.size() > 5) {
        double seconds = -1;
        try {
          seconds = std::stod(std::string(line.substr(5)));
        } catch (const std::exception&) {
        }
        if (!(seconds >= 0 && seconds <= 86400)) {
          return "ERROR STOP takes the seconds to drain, 0 to 86400";
        }
        drain = std::chrono::milliseconds(static_cast<long>(seconds * 1000));
      }
      begin_stop(drain, "control socket");
      return "OK stopping";
    }
    return "ERROR unknown command; expected RELOAD [file], STATUS or STOP [seconds]";
  }
};

ProxyServer::ProxyServer(std::filesystem::path file, std::filesystem::path home)
    : m_impl(std::make_unique<Impl>()) {
  m_impl->file = std::move(file);
  m_impl->home = std::move(home);
}

ProxyServer::~ProxyServer() = default;

void ProxyServer::run_as(process::ServiceUser user) {
  m_impl->run_as = std::move(user);
}

int ProxyServer::run(std::shared_ptr<const ProxyConfig> initial) {
  Impl& s = *m_impl;
  for (int i = 0; i < initial->server.workers; ++i) {
    s.workers.push_back(std::make_unique<Worker>());
  }
  {
    std::lock_guard lock(s.reload_mutex);
    auto r = s.apply(initial);
    if (!r) {
      ZMPROXY_LOG(error, "proxy", "{}", r.error().message);
      return 1;
    }
    s.last_reload_result = "ok";
    s.last_reload_message = "started: " + *r;
    s.last_reload_at = std::time(nullptr);
  }
  // Bound and keys read: root is no longer needed. CAP_NET_BIND_SERVICE
  // stays with this (control) thread, where reloads bind new ports, and only
  // when a port below 1024 is in use: a proxy on high ports keeps nothing.
  if (s.run_as) {
    const bool privileged_port = std::any_of(s.listeners.begin(), s.listeners.end(), [](const Listener& l) {
      return l.bound_port > 0 && l.bound_port < 1024;
    });
    if (auto ok = process::become(*s.run_as, privileged_port); !ok) {
      ZMPROXY_LOG(error, "proxy", "cannot run as {}: {}; not serving as root", s.run_as->name,
                  ok.error().message);
      return 1;
    }
    ZMPROXY_LOG(info, "proxy", "running as user {} (uid {}), {}", s.run_as->name, s.run_as->uid,
                privileged_port ? "keeping only CAP_NET_BIND_SERVICE" : "with no capability");
  } else {
    process::forbid_new_privileges();
  }
  report_degraded(*initial);
  for (auto& w : s.workers) {
    Worker* wp = w.get();
    w->thread = std::thread([wp] {
      process::drop_thread_capabilities();  // workers never bind
      auto guard = asio::make_work_guard(wp->io);
      wp->io.run();
    });
  }
  {
    std::string names;
    for (const Listener& l : s.listeners) {
      names += fmt::format("{}{} {}:{}", names.empty() ? "" : ", ", protocol_name(l.spec.protocol),
                           l.spec.address, l.bound_port);
    }
    ZMPROXY_LOG(info, "proxy", "serving with {} workers: {}", s.workers.size(),
                names.empty() ? std::string("no listeners") : names);
  }

  auto control = net::ControlSocket::open(s.control, s.home / "run" / "zmproxyd.sock",
                                     [&s](std::string_view line) { return s.command(line); });
  if (!control) {
    ZMPROXY_LOG(warn, "proxy", "{}; reload with SIGHUP instead", control.error().message);
  }
  // The workers were started with these blocked; only this thread takes them.
  asio::signal_set signals(s.control, SIGHUP, SIGTERM, SIGINT);
  signals.add(SIGUSR1);
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int sig) {
    if (ec) {
      return;
    }
    if (sig == SIGHUP) {
      if (!s.stopping) {
        s.reload("SIGHUP");
      }
    } else if (sig == SIGUSR1) {
      s.reopen_logs();
    } else {
      const auto drain = sig == SIGTERM ? s.current.load()->config->server.drain_timeout
                                        : std::chrono::milliseconds(0);
      s.begin_stop(drain, sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);
  asio::co_spawn(s.control, s.trim_memory(), asio::detached);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  s.control.run();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signals.clear();
  if (control) {
    control->reset();
  }

  for (auto& w : s.workers) {
    w->io.stop();
  }
  for (auto& w : s.workers) {
    if (w->thread.joinable()) {
      w->thread.join();
    }
  }
  // Destroy what the workers still hold (relays, sessions) now, while the
  // counters their ConnectionSlots point into are alive.
  s.workers.clear();
  std::error_code fec;
  std::filesystem::remove(s.home / "run" / "zmproxyd.addr", fec);
  ZMPROXY_LOG(info, "proxy", "stopped");
  return 0;
}

}  // namespace zmproxy::server

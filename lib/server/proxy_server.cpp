// zmproxyd's control thread: start (workers, the drop to the service user),
// the control socket and its commands, signals, STATUS, the drain at stop.
// Listeners are listeners.cpp, reload is reload.cpp.

#include <malloc.h>
#include <unistd.h>

#include "lib/core/address.hpp"
#include "lib/log/logger.hpp"
#include "lib/net/control_endpoint.hpp"
#include "lib/net/control_proof.hpp"
#include "lib/net/control_socket.hpp"
#include "lib/process/service_user.hpp"
#include "lib/route/forget_command.hpp"
#include "lib/server/server_impl.hpp"
#include "lib/server/status.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <optional>

namespace zmproxy::server {

using config::ProxyConfig;

namespace {

// The bounded queues of the generation serving now (STATUS "queues").
void queue_facts(const Generation* shared, std::vector<QueueFacts>& out) {
  if (shared == nullptr) {
    return;
  }
  if (shared->access_log) {
    out.push_back({"access_log", log::AccessLog::k_most_pending, shared->access_log->pending(),
                   shared->access_log->dropped()});
  }
  if (shared->resolver) {
    const route::ResolverStats r = shared->resolver->stats();
    const route::ResolverSettings& rs = shared->resolver->settings();
    out.push_back({"memcached_writes", rs.max_pending_fills, r.fills_waiting, r.fills_dropped});
    out.push_back({"memcached_reads", rs.max_pending_reads, r.reads_waiting, r.reads_dropped});
  }
  if (shared->throttle) {
    out.push_back({"throttle_checks", proxy::ThrottleGate::k_max_pending,
                   shared->throttle->waiting(), shared->throttle->dropped()});
  }
}

}  // namespace

std::string ProxyServer::Impl::status() {
  std::lock_guard lock(reload_mutex);
  auto shared = current.load();
  StatusFacts f;
  f.pid = ::getpid();
  f.now = std::time(nullptr);
  f.started = started;
  f.user = run_as ? run_as->name : std::to_string(::geteuid());
  f.config_file = file.string();
  f.config_version = shared ? shared->config->version : "";
  f.generation = generation;
  f.ktls = shared && shared->config->tls.ktls;
  f.ktls_kernel = kernel_tls.available;
  f.ktls_why = kernel_tls.why;
  f.reloads = reloads;
  f.last_reload_result = last_reload_result;
  f.last_reload_message = last_reload_message;
  f.last_reload_at = last_reload_at;
  for (const Listener& l : listeners) {
    f.listeners.emplace_back(
        protocol_name(l.spec.protocol),
        core::format_address(l.spec.address, static_cast<unsigned>(l.bound_port)));
  }
  const struct mallinfo2 mi = ::mallinfo2();
  f.heap_in_use = mi.uordblks;
  f.heap_free = mi.fordblks;
  f.mmapped = mi.hblkhd;
  if (shared && shared->throttle) {
    f.throttle = true;
    f.throttle_unchecked = shared->throttle->dropped();
  }
  if (shared && shared->gssapi) {
    f.gssapi = true;
    f.gssapi_keytab = shared->gssapi->keytab();
    f.gssapi_principals = shared->gssapi->principals();
    f.gssapi_busy = shared->gssapi->busy();
  }
  if (shared && shared->web_health) {
    for (const auto& d : shared->web_health->down(proxy::UpstreamHealth::Clock::now())) {
      f.web_down.emplace_back(d.address, (d.retry_in.count() + 999) / 1000);
    }
    f.web_marked_down = shared->web_health->marked_down();
  }
  f.kernel_relay = net::state_name(kernel_relay_state);
  if (kernel_relay_state == net::KernelRelayState::ready && !(shared && shared->kernel_relay)) {
    f.kernel_relay = "off";  // a reload turned it off
  }
  f.kernel_relay_why = kernel_relay_why;
  f.kernel_relay_sessions = kernel_relay ? kernel_relay->pairs() : 0;
  f.kernel_relay_relayed = kernel_relay ? kernel_relay->relayed() : 0;
  queue_facts(shared.get(), f.queues);
  return status_json(f, *counters);
}

// Give memory freed by finished logins back to the system. A login's
// coroutine frames are much larger than the relay that outlives it, and
// the allocator keeps their pages; without this an idle proxy's RSS stays at
// its login burst's peak. Runs only when connections came or went.
awaitable<void> ProxyServer::Impl::trim_memory() {
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
void ProxyServer::Impl::reopen_logs() {
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

void ProxyServer::Impl::begin_stop(std::chrono::milliseconds drain, std::string_view why) {
  if (stopping) {
    return;
  }
  stopping = true;
  grace = drain;
  published()->retired.store(true, std::memory_order_relaxed);  // web connections wind down
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

awaitable<void> ProxyServer::Impl::drain_then_stop() {
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

// ---- FORGET (issue 19, a moved mailbox) ----
// "FORGET ALL" / "FORGET <name> [<name> ...]": the users' in-process routes
// (the current generation's resolver, shared by every worker) are dropped
// and not kept again for one local TTL (RouteResolver::forget). zmconfigd
// sends it when the store changes; the strings are the same from anywhere.
namespace {

std::string forget_routes(const std::shared_ptr<const proxy::Generation>& shared, std::string_view line) {
  auto parsed = route::parse_forget(line);
  if (!parsed) {
    return "ERROR " + parsed.error().message;
  }
  if (!shared || !shared->resolver) {
    return "OK forgot 0";
  }
  const std::size_t n = parsed->all ? shared->resolver->forget_all() : shared->resolver->forget(parsed->names);
  ZMPROXY_LOG(info, "proxy", "FORGET {}: {} in-process routes dropped",
              parsed->all ? std::string("ALL") : std::to_string(parsed->names.size()) + " names", n);
  return "OK forgot " + std::to_string(n);
}

}  // namespace
// ---- end of FORGET ----

// One line of the control socket (proxy_server.hpp lists the commands).
std::string ProxyServer::Impl::command(std::string_view line) {
  const std::string_view verb = line.substr(0, line.find(' '));
  if (verb == "RELOAD") {
    if (stopping) {
      return "ERROR zmproxyd is stopping";
    }
    const std::string_view arg = line.size() > 7 ? line.substr(7) : std::string_view();
    return reload("control socket", std::filesystem::path(arg));
  }
  if (verb == "STATUS") {
    return status();
  }
  if (verb == "STOP") {
    auto drain = published()->config->server.drain_timeout;
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
  if (verb == "FORGET") {
    return forget_routes(published(), line);
  }
  return "ERROR unknown command; expected RELOAD [file], STATUS, STOP [seconds] or FORGET ALL|<name>...";
}

namespace {

// The kernel relay is loaded now, while the process is root (the program
// and the maps need CAP_BPF and CAP_NET_ADMIN; inserting sockets later
// needs only the map's descriptor, which it keeps).
void load_kernel_relay(ProxyServer::Impl& s, const ProxyConfig& c) {
  if (!net::sockmap_built()) {
    s.kernel_relay_state = net::KernelRelayState::not_built;
    s.kernel_relay_why = "not built (clang, bpftool or libbpf-dev missing when it was configured)";
    if (c.server.kernel_relay) {
      ZMPROXY_LOG(warn, "proxy",
                  "server.kernel_relay is on but this build has no kernel relay ({}); "
                  "relaying in user space",
                  s.kernel_relay_why);
    }
    return;
  }
  if (!c.server.kernel_relay) {
    s.kernel_relay_state = net::KernelRelayState::off;
    return;
  }
  auto loaded = net::SockmapRelay::load();
  if (!loaded) {
    s.kernel_relay_state = net::KernelRelayState::unavailable;
    s.kernel_relay_why = loaded.error().message;
    ZMPROXY_LOG(warn, "proxy", "kernel relay unavailable: {}; relaying in user space",
                s.kernel_relay_why);
    return;
  }
  s.kernel_relay = std::move(*loaded);
  s.kernel_relay_state = net::KernelRelayState::ready;
  ZMPROXY_LOG(info, "proxy",
              "kernel relay ready: plaintext mail sessions are relayed in the kernel after login");
}

// Bound and keys read: root is no longer needed. CAP_NET_BIND_SERVICE
// stays with this (control) thread, where reloads bind new ports, and only
// when a port below 1024 is in use: a proxy on high ports keeps nothing.
bool drop_root(ProxyServer::Impl& s) {
  if (!s.run_as) {
    process::forbid_new_privileges();
    return true;
  }
  const bool privileged_port = std::any_of(s.listeners.begin(), s.listeners.end(), [](const Listener& l) {
    return l.bound_port > 0 && l.bound_port < 1024;
  });
  if (auto ok = process::become(*s.run_as, privileged_port); !ok) {
    ZMPROXY_LOG(error, "proxy", "cannot run as {}: {}; not serving as root", s.run_as->name,
                ok.error().message);
    return false;
  }
  ZMPROXY_LOG(info, "proxy", "running as user {} (uid {}), {}", s.run_as->name, s.run_as->uid,
              privileged_port ? "keeping only CAP_NET_BIND_SERVICE" : "with no capability");
  return true;
}

// "serving with", then run/zmproxyd.addr ("ready"), then the threads: the
// file is written before a worker can take a descriptor, and whoever reads
// it and connects waits in the listen queue for the workers' first accept.
void start_workers(ProxyServer::Impl& s) {
  std::string names;
  for (const Listener& l : s.listeners) {
    names += fmt::format("{}{} {}", names.empty() ? "" : ", ", protocol_name(l.spec.protocol),
                         core::format_address(l.spec.address, static_cast<unsigned>(l.bound_port)));
  }
  ZMPROXY_LOG(info, "proxy", "serving with {} workers: {}", s.workers.size(),
              names.empty() ? std::string("no listeners") : names);
  s.write_addresses();
  for (auto& w : s.workers) {
    Worker* wp = w.get();
    w->thread = std::thread([wp] {
      process::drop_thread_capabilities();  // workers never bind
      auto guard = asio::make_work_guard(wp->io);
      wp->io.run();
    });
  }
}

// Issue 19, fleet-wide admin: the control endpoint over TCP, when this
// server's entry has a zmproxyControlPort. Its commands (STATUS, FORGET) go
// to the same dispatch as the control socket's, on this (control) thread.
awaitable<std::string> endpoint_reply(ProxyServer::Impl& s, std::string line) {
  co_return s.command(line);
}

std::unique_ptr<net::ControlEndpoint> open_control_endpoint(ProxyServer::Impl& s) {
  const config::ServerSection& c = s.published()->config->server;
  if (c.control_port == 0) {
    return nullptr;
  }
  net::ControlEndpointOptions o;
  o.component = "proxy";
  o.listen = core::format_address(c.control_address, static_cast<unsigned>(c.control_port));
  o.secret = c.control_secret;
  o.allows = net::proxy_endpoint_allows;
  o.allowed_text = "STATUS, FORGET ALL or FORGET <names>";
  auto endpoint = net::ControlEndpoint::open(s.control, std::move(o), [&s](std::string line) {
    return endpoint_reply(s, std::move(line));
  });
  if (!endpoint) {
    ZMPROXY_LOG(error, "proxy", "{}", endpoint.error().message);
    return nullptr;
  }
  ZMPROXY_LOG(info, "proxy", "control endpoint listening on {} (STATUS, FORGET)",
              (*endpoint)->address());
  return std::move(*endpoint);
}

// The control thread's own descriptors: its io_context's epoll, eventfd and
// timerfd, asio's signal pipe and the control socket. Made before the
// workers accept, so that connections queued at start, enough to take every
// descriptor, find them made; made after, asio threw past the running
// workers and the process aborted. Throws boost::system::system_error when
// the io_context or the signals cannot be set up.
class ControlServices {
 public:
  explicit ControlServices(ProxyServer::Impl& s)
      : m_s(s), m_signals(s.control, SIGHUP, SIGTERM, SIGINT) {
    m_signals.add(SIGUSR1);
    auto control =
        net::ControlSocket::open(s.control, s.home / "run" / "zmproxyd.sock",
                                 [&s](std::string_view line) { return s.command(line); });
    if (control) {
      m_socket = std::move(*control);
    } else {
      ZMPROXY_LOG(warn, "proxy", "{}; reload with SIGHUP instead", control.error().message);
    }
    m_endpoint = open_control_endpoint(s);
  }

  // Serve the control socket and the signals on this thread until a stop has drained.
  void serve() {
    wait_for_signal();
    asio::co_spawn(m_s.control, m_s.trim_memory(), asio::detached);
    // The workers were started with these blocked; only this thread takes them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    m_s.control.run();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    m_signals.clear();
    m_socket.reset();
    m_endpoint.reset();
  }

 private:
  void wait_for_signal() {
    m_signals.async_wait([this](boost::system::error_code ec, int sig) {
      if (!ec) {
        on_signal(sig);
        wait_for_signal();
      }
    });
  }

  void on_signal(int sig) {
    if (sig == SIGHUP) {
      if (!m_s.stopping) {
        m_s.reload("SIGHUP");
      }
    } else if (sig == SIGUSR1) {
      m_s.reopen_logs();
    } else {
      const auto drain = sig == SIGTERM ? m_s.published()->config->server.drain_timeout
                                        : std::chrono::milliseconds(0);
      m_s.begin_stop(drain, sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
  }

  ProxyServer::Impl& m_s;
  asio::signal_set m_signals;
  std::unique_ptr<net::ControlSocket> m_socket;  // null when it could not be opened
  std::unique_ptr<net::ControlEndpoint> m_endpoint;  // null when off or not opened
};

// The control thread's set-up failed: one line, with the fix when it is the
// open-file limit.
void log_control_failure(const boost::system::system_error& e) {
  const int code = e.code().value();
  const bool descriptors =
      e.code().category() == boost::system::system_category() && (code == EMFILE || code == ENFILE);
  ZMPROXY_LOG(
      error, "proxy", "cannot set up the control socket and signals: {}{}", e.code().message(),
      descriptors ? "; raise the open-file limit (LimitNOFILE= in the service unit, ulimit -Hn)"
                  : "");
}

void stop_workers(ProxyServer::Impl& s) {
  for (auto& w : s.workers) {
    w->io.stop();
  }
  for (auto& w : s.workers) {
    if (w->thread.joinable()) {
      w->thread.join();
    }
  }
  // A Kerberos step still on the accept thread belongs to a session of a
  // worker: finish or drop it while the workers' io_contexts exist.
  proxy::GssapiGate::shutdown();
  // Destroy what the workers still hold (relays, sessions) now, while the
  // counters their ConnectionSlots point into are alive.
  s.workers.clear();
}

}  // namespace

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
  // Before the drop (as root the probe may load the tls module) and before
  // the first contexts are made.
  s.kernel_tls = tls::probe_kernel_tls(initial->tls.ktls);
  tls::remember_kernel_tls(s.kernel_tls.available);
  ZMPROXY_LOG(info, "proxy", "{}", tls::ktls_start_line(initial->tls.ktls, s.kernel_tls));
  load_kernel_relay(s, *initial);
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
  if (!drop_root(s)) {
    return 1;
  }
  report_degraded(*initial);
  std::optional<ControlServices> control;
  try {
    control.emplace(s);
  } catch (const boost::system::system_error& e) {
    log_control_failure(e);
    return 1;
  }
  // run/zmproxyd.addr says "ready": written once the listeners listen, the
  // control socket answers and the process runs as the service user, so
  // whoever waits for it (zmproxyctl, the tests) never sees a root process.
  start_workers(s);
  try {
    control->serve();
  } catch (const std::exception& e) {
    // Running workers' threads must not be destroyed (std::terminate).
    ZMPROXY_LOG(error, "proxy", "the control thread failed: {}; stopping", e.what());
    stop_workers(s);
    throw;
  }
  stop_workers(s);
  std::error_code fec;
  std::filesystem::remove(s.home / "run" / "zmproxyd.addr", fec);
  ZMPROXY_LOG(info, "proxy", "stopped");
  return 0;
}

}  // namespace zmproxy::server

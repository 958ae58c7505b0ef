// zmproxyd's listeners: an acceptor per worker and port, the accept loop,
// the per-worker and per-address caps, and the session each connection gets.

#include <unistd.h>

#include "lib/core/address.hpp"
#include "lib/core/assert.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/core/duration.hpp"
#include "lib/log/logger.hpp"
#include "lib/net/accept_backoff.hpp"
#include "lib/net/proxy_header_read.hpp"
#include "lib/net/socket_adopt.hpp"
#include "lib/proxy/http/session.hpp"
#include "lib/proxy/imap/client_session.hpp"
#include "lib/proxy/pop3/client_session.hpp"
#include "lib/route/lookup_access.hpp"
#include "lib/server/server_impl.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <sys/socket.h>

namespace zmproxy::server {

namespace {

// How long a PROXY protocol listener waits for the header (at most; the
// listener's idle timeout when shorter).
constexpr std::chrono::milliseconds k_proxy_header_timeout{5'000};

proxy::PeerConnections::Key peer_key(const tcp::endpoint& peer) {
  const auto a = peer.address();
  const auto v6 = a.is_v6() ? a.to_v6() : asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4());
  return proxy::PeerConnections::client_key(v6.to_bytes());
}

// What a client over a cap is told before the close: the protocol's own
// "try later" where it speaks first in clear; TLS listeners close without a
// handshake. One non-blocking send, never a wait. `per_address`: the
// client's address holds too many (else the worker does).
std::string_view over_cap_reply(Protocol protocol, bool per_address) {
  switch (protocol) {
    case Protocol::imap:
      return per_address ? "* BYE [UNAVAILABLE] too many connections from your address\r\n"
                         : "* BYE [UNAVAILABLE] the server is busy, try again later\r\n";
    case Protocol::pop3:
      return per_address ? "-ERR [SYS/TEMP] too many connections from your address\r\n"
                         : "-ERR [SYS/TEMP] the server is busy, try again later\r\n";
    case Protocol::http:
      return per_address ? "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 40\r\nRetry-After: 10\r\nConnection: close\r\n\r\n"
                           "too many connections from your address\r\n"
                         : "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 37\r\nRetry-After: 10\r\nConnection: close\r\n\r\n"
                           "the server is busy, try again later\r\n";
    default:
      return {};
  }
}

void send_without_waiting(tcp::socket& socket, std::string_view reply) {
  if (!reply.empty()) {
    [[maybe_unused]] const auto sent =
        ::send(socket.native_handle(), reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
}

void session_done(std::exception_ptr e) {
  if (e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      ZMPROXY_LOG(error, "proxy", "session ended with an error: {}", ex.what());
    } catch (...) {
      ZMPROXY_LOG(error, "proxy", "session ended with an unknown error");
    }
  }
}

// The session a listener's connection gets. `client`: the client's address
// (accept4's, or the one a PROXY protocol header carried); `local`: the
// connection's local end when the listener knows it.
awaitable<void> session_of(std::shared_ptr<const Generation> shared, tcp::socket socket, Protocol protocol,
                           proxy::ConnectionSlot slot, std::optional<tcp::endpoint> client,
                           std::optional<tcp::endpoint> local) {
  switch (protocol) {
    case Protocol::imap:
    case Protocol::imaps:
      return proxy::imap::run_session(std::move(shared), std::move(socket), protocol == Protocol::imaps,
                                      std::move(slot), client, local);
    case Protocol::pop3:
    case Protocol::pop3s:
      return proxy::pop3::run_session(std::move(shared), std::move(socket), protocol == Protocol::pop3s,
                                      std::move(slot), client, local);
    case Protocol::http:
    case Protocol::https:
      return proxy::http::run_session(std::move(shared), std::move(socket), protocol == Protocol::https,
                                      std::move(slot), false, client, local);
    case Protocol::admin:
      break;
    case Protocol::certauth:
      return proxy::http::run_certauth_session(std::move(shared), std::move(socket), std::move(slot), client,
                                               local);
  }
  return proxy::http::run_session(std::move(shared), std::move(socket), true, std::move(slot), true, client,
                                  local);
}

// Whether an accepted socket has TCP_NODELAY from its listener (open_listener
// sets it there; Linux copies it into each accepted socket:
// tests/unit/net/socket_adopt_test.cpp). Asked of the first accepted socket
// only; were it ever not so, every accepted socket gets the option set.
bool nodelay_inherited(int fd) {
  static std::atomic<int> known{0};  // 0: not asked yet, 1: inherited, 2: not
  int k = known.load(std::memory_order_relaxed);
  if (k == 0) {
    int on = 0;
    socklen_t len = sizeof on;
    k = ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on != 0 ? 1 : 2;
    known.store(k, std::memory_order_relaxed);
  }
  return k == 1;
}

bool reads_proxy_protocol(const config::ProxyConfig& cfg, Protocol protocol) {
  const auto& names = cfg.server.proxy_protocol;
  return !names.empty() &&
         std::find(names.begin(), names.end(), proxy::protocol_name(protocol)) != names.end();
}

}  // namespace

awaitable<void> ProxyServer::Impl::accept_loop(Worker& w,
                                               std::shared_ptr<tcp::acceptor> acceptor,
                                               Protocol protocol) {
  net::AcceptBackoff backoff;
  // The connections' local end is the listener's address, unless that is a
  // wildcard (each session then asks the kernel: getsockname).
  boost::system::error_code lec;
  std::optional<tcp::endpoint> local = acceptor->local_endpoint(lec);
  if (lec || local->address().is_unspecified()) {
    local.reset();
  }
  while (true) {
    // One accept4 per readiness, as nginx: no speculative accept that finds
    // nothing, and the client's address, non-blocking and close-on-exec
    // flags come with the descriptor (no getpeername, no FIONBIO).
    auto [ec] = co_await acceptor->async_wait(tcp::acceptor::wait_read, net::use_nothrow);
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) {
      co_return;
    }
    int fd = -1;
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    if (!ec) {
      fd = ::accept4(acceptor->native_handle(), reinterpret_cast<sockaddr*>(&peer), &peer_len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED || err == EPROTO) {
          continue;  // taken already, or a client that left before accept (Asio retried these too)
        }
        ec = boost::system::error_code(err, boost::system::system_category());
      }
    }
    if (ec) {
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
    boost::system::error_code aec;
    tcp::socket socket = net::adopt_socket(acceptor->get_executor(), fd, peer.ss_family == AF_INET6, aec);
    if (aec) {
      continue;  // closed; the reactor refused it (out of memory)
    }
    if (!nodelay_inherited(fd)) {
      socket.set_option(tcp::no_delay(true), aec);
    }
    tcp::endpoint client;
    std::memcpy(client.data(), &peer, std::min<std::size_t>(peer_len, client.capacity()));
    client.resize(std::min<std::size_t>(peer_len, client.capacity()));
    take(w, std::move(socket), protocol, client, local);
  }
}

// One accepted connection: refused (the socket closes) over the worker's or
// the client address's cap, else a session on this worker. On a PROXY
// protocol listener, take_proxied.
void ProxyServer::Impl::take(Worker& w, tcp::socket socket, Protocol protocol, const tcp::endpoint& peer,
                             const std::optional<tcp::endpoint>& local) {
  std::shared_ptr<const Generation> shared = published();
  const int limit = shared->config->server.worker_connections;
  if (w.connections.load() >= limit) {
    refuse_over_worker_limit(socket, protocol, limit);
    return;
  }
  if (reads_proxy_protocol(*shared->config, protocol)) {
    take_proxied(w, std::move(shared), std::move(socket), protocol, peer, local);
    return;
  }
  const int per_ip = shared->config->server.max_connections_per_ip;
  proxy::PeerConnections::Key key{};
  if (per_ip > 0) {
    if (!admit_per_ip(socket, peer, protocol, per_ip, key)) {
      return;
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
  asio::co_spawn(w.io, session_of(std::move(shared), std::move(socket), protocol, std::move(slot), peer, local),
                 session_done);
}

// Counts `client` in the per-address cap (its key in `key`), or tells the
// client why not (one non-blocking send) and returns false.
bool ProxyServer::Impl::admit_per_ip(tcp::socket& socket, const tcp::endpoint& client, Protocol protocol,
                                     int per_ip, proxy::PeerConnections::Key& key) {
  key = peer_key(client);
  if (peers.try_add(key, per_ip)) {
    return true;
  }
  if (refused_per_ip++ % 1000 == 0) {
    ZMPROXY_LOG(warn, "proxy",
                "{} holds {} connections (server.max_connections_per_ip); refusing more "
                "({} refused so far)",
                net::unmapped(client.address()).to_string(), per_ip, refused_per_ip.load());
  }
  send_without_waiting(socket, over_cap_reply(protocol, true));
  return false;
}

void ProxyServer::Impl::refuse_over_worker_limit(tcp::socket& socket,
                                                 Protocol protocol,
                                                 int limit) {
  counters->of(protocol).worker_refused.fetch_add(1, std::memory_order_relaxed);
  send_without_waiting(socket, over_cap_reply(protocol, false));
  std::uint64_t since = 0;
  if (worker_limit_log.refused(core::steady_ms(), since)) {
    ZMPROXY_LOG(
        warn, "proxy",
        "a worker holds {} connections (server.worker_connections): {} new {} refused since "
        "the last line; raise zimbraReverseProxyWorkerConnections (or server.workers)",
        limit, since, since == 1 ? "connection" : "connections");
  }
}

// A connection to a PROXY protocol listener (server.proxy_protocol): only
// from a balancer in http.trusted_proxies, else closed at once. It holds a
// place in the worker's and the protocol's counts while its header is read,
// but none in the per-address cap: the balancer's address would fill it.
void ProxyServer::Impl::take_proxied(Worker& w, std::shared_ptr<const Generation> shared,
                                     tcp::socket socket, Protocol protocol, const tcp::endpoint& peer,
                                     const std::optional<tcp::endpoint>& local) {
  const auto& trusted = shared->config->http.trusted_proxies;
  if (trusted.empty() || !route::peer_allowed(peer.address(), trusted)) {
    log_proxy_refusal(protocol, peer,
                      "not in http.trusted_proxies, so its PROXY protocol header is not believed "
                      "(zmlocalconfig -e zmproxy_trusted_proxies=...)");
    return;
  }
  w.connections++;
  proxy::ProtocolCounters& pc = shared->counters->of(protocol);
  pc.active++;
  pc.accepted++;
  proxy::ConnectionSlot slot(&w.connections, &pc.active);
  asio::co_spawn(w.io,
                 proxied_session(std::move(shared), std::move(socket), protocol, std::move(slot), peer, local),
                 session_done);
}

// The header first (nothing is sent before it), within 5 s or the
// listener's idle timeout if shorter; then the address it carries is the
// client's: counted in the per-address cap and handed to the session.
awaitable<void> ProxyServer::Impl::proxied_session(std::shared_ptr<const Generation> shared,
                                                   tcp::socket socket, Protocol protocol,
                                                   proxy::ConnectionSlot slot, tcp::endpoint balancer,
                                                   std::optional<tcp::endpoint> local) {
  const config::ProxyConfig& cfg = *shared->config;
  const std::chrono::milliseconds idle = protocol == Protocol::imap || protocol == Protocol::imaps
                                             ? cfg.imap.idle_timeout
                                         : protocol == Protocol::pop3 || protocol == Protocol::pop3s
                                             ? cfg.pop3.idle_timeout
                                             : cfg.http.client_timeout;
  const std::chrono::milliseconds timeout = std::min<std::chrono::milliseconds>(idle, k_proxy_header_timeout);
  const net::ProxiedPeer got = co_await net::read_proxy_header(socket, timeout);
  if (!got.ok) {
    log_proxy_refusal(protocol, balancer, got.failure);
    co_return;
  }
  const int per_ip = cfg.server.max_connections_per_ip;
  if (per_ip > 0) {
    proxy::PeerConnections::Key key{};
    if (!admit_per_ip(socket, got.client, protocol, per_ip, key)) {
      co_return;
    }
    slot.hold_peer(&peers, key);
  }
  std::optional<tcp::endpoint> client = got.client;
  auto run = session_of(std::move(shared), std::move(socket), protocol, std::move(slot), client, local);
  co_await std::move(run);
}

void ProxyServer::Impl::log_proxy_refusal(Protocol protocol, const tcp::endpoint& peer, std::string_view why) {
  counters->of(protocol).proxy_refused.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t unwritten = 0;
  if (!proxy_protocol_refusals.admit(unwritten)) {
    return;
  }
  const std::string more =
      unwritten == 0 ? std::string() : fmt::format(" ({} more refused, not logged)", unwritten);
  ZMPROXY_LOG(warn, "proxy", "{} connection from {} closed: {}{}", proxy::protocol_name(protocol),
              core::format_address(net::unmapped(peer.address()).to_string(), peer.port()), why, more);
}

Result<Listener> ProxyServer::Impl::open_listener(const ListenerSpec& spec,
                                                  const std::string& config_file) {
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
      // Copied into every accepted socket (nodelay_inherited): no per-session setsockopt.
      ::setsockopt(acceptor->native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      acceptor->bind(ep, ec);
    }
    if (!ec) {
      acceptor->listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return fail(Errc::io_error,
                  fmt::format("cannot listen for {} on {}: {}; free the port or change {} in {}",
                              protocol_name(spec.protocol),
                              core::format_address(spec.address, static_cast<unsigned>(spec.port)),
                              ec.message(), spec.attribute, config_file));
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
void ProxyServer::Impl::close_listener(Listener& l, bool wait) {
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

void ProxyServer::Impl::start_listener(Listener& l) {
  ZMPROXY_ASSERT(l.acceptors.size() == workers.size(),
                 "a listener has one acceptor per worker (open_listener)");
  for (std::size_t i = 0; i < workers.size(); ++i) {
    asio::co_spawn(workers[i]->io, accept_loop(*workers[i], l.acceptors[i], l.spec.protocol),
                   asio::detached);
  }
}

void ProxyServer::Impl::write_addresses() {
  std::string addresses;
  for (const Listener& l : listeners) {
    addresses +=
        fmt::format("{} {}\n", protocol_name(l.spec.protocol),
                    core::format_address(l.spec.address, static_cast<unsigned>(l.bound_port)));
  }
  std::error_code fec;
  std::filesystem::create_directories(home / "run", fec);
  // Whoever waits for the file (zmproxyctl start, the tests) is told why it never came.
  if (auto ok = core::write_file_atomic(home / "run" / "zmproxyd.addr", addresses); !ok) {
    ZMPROXY_LOG(warn, "proxy", "{}; zmproxyctl cannot see that zmproxyd serves",
                ok.error().message);
  }
}

}  // namespace zmproxy::server

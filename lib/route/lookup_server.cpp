#include "lib/route/lookup_server.hpp"

#include "lib/core/address.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/core/strings.hpp"
#include "lib/log/logger.hpp"
#include "lib/net/accept_backoff.hpp"
#include "lib/net/asio.hpp"
#include "lib/net/control_endpoint.hpp"
#include "lib/net/control_line.hpp"
#include "lib/net/control_proof.hpp"
#include "lib/route/certauth_lookup.hpp"
#include "lib/route/gssapi_lookup.hpp"
#include "lib/route/lookup_access.hpp"
#include "lib/route/lookup_dns.hpp"
#include "lib/route/lookup_handler.hpp"
#include "lib/route/lookup_http.hpp"
#include "lib/route/route_purge.hpp"

#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <optional>

namespace zmproxy::route {

namespace {

using net::asio::awaitable;
using net::tcp;
namespace asio = net::asio;

// The route purge after a rebuild (route_purge.hpp): at most this many
// accounts, each memcached command within this time, and the same keys
// deleted once more this long after (a proxy that asked before the rebuild
// may write the old route back meanwhile).
constexpr std::size_t k_max_purged_accounts = 500;
constexpr auto k_purge_timeout = std::chrono::milliseconds(500);
constexpr auto k_purge_again_after = std::chrono::seconds(2);
constexpr std::size_t k_max_again_keys = 100000;

// A caller's text as one bounded log line: control bytes become '?'.
std::string for_log(std::string_view text, std::size_t max) {
  std::string out(text.substr(0, max));
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      c = '?';
    }
  }
  return out;
}

}  // namespace

struct LookupServer::Impl {
  LookupServerOptions options;
  IndexLoader loader;
  asio::io_context io{1};
  asio::thread_pool builder{1};  // blocking store reads happen here only
  std::atomic<std::shared_ptr<const RouteIndex>> index;
  // Bumped after each store to `index`: the io thread reloads its copy only
  // when it moved (a plain load per lookup, no atomic reference count).
  std::atomic<std::uint64_t> index_generation{0};
  std::shared_ptr<const RouteIndex> io_index;  // io thread only
  std::uint64_t io_index_generation = 0;       // io thread only
  LookupDns dns;                               // io thread only
  LookupHttpCounters http;              // requests, errors, refused
  std::atomic<std::uint64_t> reloads{0};
  std::atomic<std::uint64_t> reload_failures{0};
  std::unique_ptr<RoutePurger> purger;              // builder thread only
  std::unique_ptr<asio::steady_timer> purge_again;  // builder thread only
  PurgeBatch again;                                 // what it deletes; builder thread only
  int active = 0;  // io thread only
  int draining = 0;  // refused callers whose 403 is being delivered; io thread only
  static constexpr int k_max_draining = 64;
  std::unique_ptr<asio::steady_timer> slot_freed;  // wakes the accept loop at the cap
  // The connections' idle deadlines, swept every 200 ms (io thread only).
  std::unique_ptr<net::DeadlineSweeper> sweeper;

  bool load_now(std::string_view why) {
    const auto started = std::chrono::steady_clock::now();
    auto loaded = loader();
    if (!loaded) {
      ++reload_failures;
      ZMPROXY_LOG(error, "zmlookupd", "cannot load the store ({}): {}; still serving the previous index",
                  why, loaded.error().message);
      return false;
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started).count();
    ZMPROXY_LOG(info, "zmlookupd", "index loaded ({}): {} accounts, {} domains, {} servers in {} ms",
                why, (*loaded)->accounts().size(), (*loaded)->domains().size(),
                (*loaded)->servers().size(), ms);
    publish(*loaded);
    ++reloads;
    purge_changed_routes(*loaded);
    return true;
  }

  // Builder thread: the cached routes of the accounts this index changed
  // are deleted from memcached now and once more k_purge_again_after later
  // (with those of the rebuilds in between, up to k_max_again_keys).
  void purge_changed_routes(const std::shared_ptr<const RouteIndex>& built) {
    PurgeBatch batch = purger->after_rebuild(built);
    if (batch.empty()) {
      return;
    }
    if (again.keys.size() + batch.keys.size() <= k_max_again_keys) {
      again.keys.insert(again.keys.end(), batch.keys.begin(), batch.keys.end());
      std::sort(again.keys.begin(), again.keys.end());
      again.keys.erase(std::unique(again.keys.begin(), again.keys.end()), again.keys.end());
    }
    again.servers = std::move(batch.servers);
    purge_again->expires_after(k_purge_again_after);  // a wait already running is cancelled
    purge_again->async_wait([this](boost::system::error_code ec) {
      if (!ec && !again.empty()) {
        purger->again(again);
        again = {};
      }
    });
  }

  void publish(std::shared_ptr<const RouteIndex> built) {
    index.store(std::move(built));
    index_generation.fetch_add(1, std::memory_order_release);
  }

  // The index lookups use now (io thread only).
  const RouteIndex& current_index() {
    const std::uint64_t generation = index_generation.load(std::memory_order_acquire);
    if (generation != io_index_generation || !io_index) {
      io_index = index.load();
      io_index_generation = generation;
    }
    return *io_index;
  }

  awaitable<bool> load_async(std::string why) { co_return load_now(why); }

  // A gssapi or certauth lookup's answer (the lookups that vouch for a
  // login: token_lookup.hpp); a refusal is logged with its cause (never a
  // password or the token).
  LookupAnswer answer_with_token(const LookupRequest& request,
                                 const RouteIndex& current,
                                 const std::string& peer) const {
    const TokenCaller caller{peer, options.secret,
                             std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count()};
    const bool certauth = request.method == "certauth";
    LookupAnswer a = certauth ? handle_certauth_lookup(request, current, options.handler_server, caller)
                              : handle_gssapi_lookup(request, current, options.handler_server, caller);
    if (!a.response.ok) {
      ZMPROXY_LOG(warn, "zmlookupd", "{} lookup from {} (X-Proxy-IP {}) refused: {}", request.method, peer,
                  for_log(request.proxy_ip, 64), for_log(a.response.status, 512));
    } else if (certauth) {
      ZMPROXY_LOG(info, "zmlookupd", "certauth lookup from {} (X-Proxy-IP {}): subject {} is {}", peer,
                  for_log(request.proxy_ip, 64), for_log(request.user, 512), for_log(a.response.user, 256));
    }
    return a;
  }

  // The answer in `answer` when it needs no waiting, else false (then the
  // awaited answer() gives it): `request` and `answer` are the
  // connection's, reused (no allocation once their strings have grown).
  bool answer_now(const HeaderViews& fields, const std::string& peer, LookupRequest& request,
                  LookupAnswer& answer) {
    const int wait = 10;
    if (auto parsed = parse_lookup_request(fields, request); !parsed) {
      answer.response.assign_error(parsed.error().message, wait);
      return true;
    }
    const RouteIndex& current = current_index();
    const bool vouching = request.method == "gssapi" || request.method == "certauth";
    if (vouching) {
      answer = answer_with_token(request, current, peer);
    } else {
      handle_lookup(request, current, options.handler_server, answer);
    }
    // An address already (the usual zimbraMailHost), or a name resolved
    // within the last minute: no waiting; else answer() resolves it.
    if (answer.response.ok && answer.resolve_host &&
        !dns.resolved_now(answer.response.server, answer.ip_mode)) {
      return false;
    }
    // Stock nginx (auth_http) sends the real password and insists on getting
    // it back in Auth-Pass; Zimbra's proxy and ours send the placeholder and
    // get none. The password is never logged.
    if (answer.response.ok && !vouching && request.password != "_password_" && !request.password.empty()) {
      answer.response.token.assign(request.password);
    }
    return true;
  }

  awaitable<LookupResponse> answer(Headers headers, std::string peer) {
    auto parsed = parse_lookup_request(headers);
    current_index();
    const std::shared_ptr<const RouteIndex> current = io_index;  // kept while this waits
    const int wait = 10;
    if (!parsed) {
      co_return LookupResponse::error(parsed.error().message, wait);
    }
    const bool vouching = parsed->method == "gssapi" || parsed->method == "certauth";
    LookupAnswer a = vouching ? answer_with_token(*parsed, *current, peer)
                            : handle_lookup(*parsed, *current, options.handler_server);
    // As answer_now.
    if (a.response.ok && !vouching && parsed->password != "_password_" && !parsed->password.empty()) {
      a.response.token = parsed->password;
    }
    if (a.response.ok && a.resolve_host) {
      const std::string host = a.response.server;
      std::string address = co_await dns.resolve(host, a.ip_mode);
      if (address.empty()) {
        co_return LookupResponse::error("cannot resolve mail host " + host + " (" + a.ip_mode + ")",
                                        a.response.wait_seconds == 0 ? wait : a.response.wait_seconds);
      }
      a.response.server = address;
    }
    co_return a.response;
  }

  // One connection's view of the server.
  class Service final : public LookupService {
   public:
    Service(Impl& impl, std::string peer) : m_impl(impl), m_peer(std::move(peer)) {}
    const LookupResponse* answer_now(const HeaderViews& fields) override {
      return m_impl.answer_now(fields, m_peer, m_request, m_answer) ? &m_answer.response : nullptr;
    }
    awaitable<LookupResponse> answer_later(const HeaderViews& fields) override {
      Headers headers;
      for (const auto& [name, value] : fields) {
        headers.emplace_back(std::string(name), std::string(value));
      }
      co_return co_await m_impl.answer(std::move(headers), m_peer);
    }

   private:
    Impl& m_impl;
    std::string m_peer;
    LookupRequest m_request;  // the last request, its buffers reused
    LookupAnswer m_answer;    // the last answer, its buffers reused
  };

  // A served connection's place under max_connections.
  struct Slot {
    Impl* impl;
    explicit Slot(Impl* i) : impl(i) { ++impl->active; }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() {
      --impl->active;
      if (impl->slot_freed) {
        impl->slot_freed->cancel();
      }
    }
  };

  awaitable<void> session(tcp::socket socket) {
    boost::system::error_code pec;
    const auto peer = socket.remote_endpoint(pec);
    if (pec || !peer_allowed(peer.address(), options.allowed_peers)) {
      // Not a caller we know: refused before reading a byte of the request,
      // and without a place under max_connections (refused callers cannot
      // crowd out allowed ones); past k_max_draining at once, closed at once.
      ++http.refused;
      if (draining >= k_max_draining) {
        co_return;
      }
      ++draining;
      struct Drained {
        int& n;
        ~Drained() { --n; }
      } drained{draining};
      co_await refuse_connection(std::move(socket));
      co_return;
    }
    Slot slot(this);
    Service service(*this, net::unmapped(peer.address()).to_string());
    co_await serve_lookups(std::move(socket), options.secret, http, service, *sweeper);
  }

  awaitable<void> accept_loop(tcp::acceptor acceptor) {
    net::AcceptBackoff backoff;
    slot_freed = std::make_unique<asio::steady_timer>(io);
    sweeper = std::make_unique<net::DeadlineSweeper>(io.get_executor());
    while (true) {
      // At the cap, leave new callers in the kernel's queue until one ends.
      while (active >= options.max_connections) {
        slot_freed->expires_after(std::chrono::seconds(1));
        co_await slot_freed->async_wait(net::use_nothrow);
      }
      auto [ec, socket] = co_await acceptor.async_accept(net::use_nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted) {
          co_return;
        }
        const auto pause = backoff.after_failure(ec.value());
        if (backoff.first_failure()) {
          ZMPROXY_LOG(warn, "zmlookupd", "cannot accept connections: {}; pausing accepts",
                      ec.message());
        }
        asio::steady_timer t(io);
        t.expires_after(pause);
        co_await t.async_wait(net::use_nothrow);
        continue;
      }
      if (backoff.after_success()) {
        ZMPROXY_LOG(info, "zmlookupd", "accepting connections again");
      }
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }

  // One command at a time, like zmproxyd's control socket (net/control_line):
  // a line of at most 4 KiB within 5 s, from root or this daemon's user.
  awaitable<void> control_loop(asio::local::stream_protocol::acceptor acceptor) {
    while (true) {
      auto socket = co_await net::accept_controller(acceptor);
      if (!socket) {
        co_return;
      }
      co_await control_session(std::move(*socket));
    }
  }

  awaitable<void> control_session(asio::local::stream_protocol::socket socket) {
    auto line = co_await net::read_control_line(socket);
    if (!line) {
      co_return;
    }
    std::string reply = co_await control_reply(core::to_lower(core::trim(*line)));
    co_await asio::async_write(socket, asio::buffer(reply), net::use_nothrow);
  }

  // A control command's reply with its newline: the control socket's and
  // the control endpoint's (lower-cased command).
  awaitable<std::string> control_reply(std::string cmd) {
    std::string reply;
    if (cmd == "flush") {
      dns.clear();
      // Rebuild on the builder thread; this coroutine resumes here when done.
      const bool ok = co_await asio::co_spawn(builder, load_async("flush"), asio::use_awaitable);
      reply = ok ? "OK flushed\n" : "ERROR cannot reload the store; see the log\n";
    } else if (cmd == "stats") {
      const auto current = index.load();
      reply = "{\"requests\":" + std::to_string(http.requests.load()) +
              ",\"errors\":" + std::to_string(http.errors.load()) +
              ",\"refused\":" + std::to_string(http.refused.load()) +
              ",\"reloads\":" + std::to_string(reloads.load()) +
              ",\"reload_failures\":" + std::to_string(reload_failures.load()) +
              ",\"accounts\":" + std::to_string(current ? current->accounts().size() : 0) +
              purge_stats() + "}\n";
    } else {
      reply = "ERROR unknown command; use FLUSH or STATS\n";
    }
    co_return reply;
  }

  // STATS' fields of the route purge (",\"purged_accounts\":...").
  std::string purge_stats() const {
    const PurgeCounters& c = purger->counters();
    return ",\"purged_accounts\":" + std::to_string(c.accounts.load()) +
           ",\"purged_entries\":" + std::to_string(c.deleted.load()) +
           ",\"purges_skipped\":" + std::to_string(c.skipped.load()) +
           ",\"purge_failures\":" + std::to_string(c.failures.load());
  }

  // The store is used by the builder thread only (the change feed may be
  // loading already): load there and wait. Without it, an empty index.
  void load_first() {
    std::promise<bool> first;
    auto first_loaded = first.get_future();
    asio::post(builder, [this, &first] { first.set_value(load_now("start")); });
    if (!first_loaded.get()) {
      publish(RouteIndex::from_entries({}));
      ZMPROXY_LOG(warn, "zmlookupd",
                  "starting with an empty index; lookups fail until the store is readable");
    }
  }

  std::optional<tcp::acceptor> listen_on(const tcp::endpoint& endpoint) {
    tcp::acceptor acceptor(io);
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
      acceptor.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      ZMPROXY_LOG(error, "zmlookupd",
                  "cannot listen on {}: {}; choose another port with --listen or "
                  "zimbraExtensionBindPort",
                  options.listen, ec.message());
      return std::nullopt;
    }
    return acceptor;
  }

  void start_control() {
    if (options.control_socket.empty()) {
      return;
    }
    auto control = net::open_control_acceptor(io, options.control_socket);
    if (!control) {
      ZMPROXY_LOG(warn, "zmlookupd", "no control socket: {}", control.error().message);
    } else {
      asio::co_spawn(io, control_loop(std::move(*control)), asio::detached);
    }
  }

  // SIGINT/SIGTERM stop the server; SIGUSR1 reopens the log file (logrotate
  // renamed it: write to a fresh file of the same name).
  awaitable<void> signal_loop(asio::signal_set& signals) {
    while (true) {
      auto [ec, sig] = co_await signals.async_wait(net::use_nothrow);
      if (ec) {
        co_return;
      }
      if (sig != SIGUSR1) {
        ZMPROXY_LOG(info, "zmlookupd", "stopping");
        io.stop();
        co_return;
      }
      if (log::reopen_file()) {
        ZMPROXY_LOG(info, "zmlookupd", "SIGUSR1: log file reopened");
      } else {
        ZMPROXY_LOG(error, "zmlookupd",
                    "SIGUSR1: cannot reopen the log file; still writing the old one");
      }
    }
  }

  void write_address_file(const std::string& where) {
    if (options.address_file.empty()) {
      return;
    }
    std::error_code ec;
    std::filesystem::create_directories(options.address_file.parent_path(), ec);
    if (auto w = core::write_file_atomic(options.address_file, where + "\n"); !w) {
      ZMPROXY_LOG(warn, "zmlookupd", "{}", w.error().message);
    }
  }

  // Issue 19, fleet-wide admin: the control endpoint over TCP (FLUSH and
  // STATS from zmprov fc -a and the fleet's tools), when configured; its
  // commands go to control_reply on this (io) thread.
  std::unique_ptr<net::ControlEndpoint> control_endpoint;

  static awaitable<std::string> endpoint_reply(Impl& self, std::string line) {
    std::string reply = co_await self.control_reply(core::to_lower(line));
    if (!reply.empty() && reply.back() == '\n') {
      reply.pop_back();
    }
    co_return reply;
  }

  void start_endpoint() {
    if (options.control_listen.empty()) {
      return;
    }
    net::ControlEndpointOptions o;
    o.component = "zmlookupd";
    o.listen = options.control_listen;
    o.secret = options.control_secret;
    o.allows = net::lookup_endpoint_allows;
    o.allowed_text = "FLUSH or STATS";
    auto opened = net::ControlEndpoint::open(io, std::move(o), [this](std::string line) {
      return endpoint_reply(*this, std::move(line));
    });
    if (!opened) {
      ZMPROXY_LOG(error, "zmlookupd", "{}", opened.error().message);
      return;
    }
    control_endpoint = std::move(*opened);
    ZMPROXY_LOG(info, "zmlookupd", "control endpoint listening on {} (FLUSH, STATS)",
                control_endpoint->address());
  }

  void remove_files() {
    std::error_code ec;
    if (!options.control_socket.empty()) {
      std::filesystem::remove(options.control_socket, ec);
    }
    if (!options.address_file.empty()) {
      std::filesystem::remove(options.address_file, ec);
    }
  }
};

LookupServer::LookupServer(LookupServerOptions options, IndexLoader loader)
    : m_impl(std::make_unique<Impl>()) {
  m_impl->options = std::move(options);
  m_impl->loader = std::move(loader);
  // Before anything can post a load to the builder (the change feed may
  // call reload() before run()).
  m_impl->purger =
      std::make_unique<RoutePurger>(m_impl->options.handler_server, k_max_purged_accounts, k_purge_timeout);
  m_impl->purge_again = std::make_unique<asio::steady_timer>(m_impl->builder);
}

LookupServer::~LookupServer() {
  // A purge waiting to run again would hold the builder for its delay.
  asio::post(m_impl->builder, [impl = m_impl.get()] {
    if (impl->purge_again) {
      impl->purge_again->cancel();
    }
  });
  m_impl->builder.join();
}

void LookupServer::reload(std::string_view why) {
  std::string reason(why);
  asio::post(m_impl->builder, [impl = m_impl.get(), reason] { impl->load_now(reason); });
}

void LookupServer::stop() {
  asio::post(m_impl->io, [impl = m_impl.get()] { impl->io.stop(); });
}

int LookupServer::run() {
  Impl& s = *m_impl;
  auto endpoint = parse_listen(s.options.listen);
  if (!endpoint) {
    ZMPROXY_LOG(error, "zmlookupd", "{}", endpoint.error().message);
    return 1;
  }
  s.load_first();
  if (auto allowed = check_listen_policy(s.options.listen, !s.options.secret.empty()); !allowed) {
    ZMPROXY_LOG(error, "zmlookupd", "{}", allowed.error().message);
    return 1;
  }
  if (s.options.max_connections < 1) {
    ZMPROXY_LOG(error, "zmlookupd", "zmlookupd_max_connections must be at least 1");
    return 1;
  }
  auto acceptor = s.listen_on(*endpoint);
  if (!acceptor) {
    return 1;
  }
  const auto bound = acceptor->local_endpoint();
  const std::string where = core::format_address(bound.address().to_string(), bound.port());
  if (s.options.after_listen) {
    if (auto ok = s.options.after_listen(); !ok) {
      ZMPROXY_LOG(error, "zmlookupd", "{}", ok.error().message);
      return 1;
    }
  }
  asio::co_spawn(s.io, s.accept_loop(std::move(*acceptor)), asio::detached);
  s.start_control();
  s.start_endpoint();
  asio::signal_set signals(s.io, SIGINT, SIGTERM, SIGUSR1);
  asio::co_spawn(s.io, s.signal_loop(signals), asio::detached);
  s.write_address_file(where);
  ZMPROXY_LOG(info, "zmlookupd", "listening on {} for {}", where, k_lookup_path);
  s.io.run();
  s.remove_files();
  return 0;
}

}  // namespace zmproxy::route

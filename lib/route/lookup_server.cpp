#include "lib/route/lookup_server.hpp"

#include <atomic>
#include <future>
#include <chrono>
#include <map>
#include <mutex>

#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "lib/core/address.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/core/strings.hpp"
#include "lib/log/logger.hpp"
#include "lib/net/accept_backoff.hpp"
#include "lib/net/asio.hpp"
#include "lib/net/control_line.hpp"
#include "lib/route/lookup_handler.hpp"

namespace zmproxy::route {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using net::asio::awaitable;
using net::tcp;
namespace asio = net::asio;

constexpr auto k_idle_timeout = std::chrono::seconds(60);
constexpr auto k_dns_ttl = std::chrono::seconds(60);

struct DnsEntry {
  std::string address;
  std::chrono::steady_clock::time_point expires;
};

Result<tcp::endpoint> parse_listen(const std::string& text) {
  const core::ParsedAddress a = core::parse_address(text, {7072, true, true});
  if (!a) {
    return fail(Errc::invalid_argument, "invalid listen address: " + a.error);
  }
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(a->host.empty() ? "0.0.0.0" : a->host, ec);
  if (ec) {
    return fail(Errc::invalid_argument, "invalid listen address '" + text +
                                            "'; use an IP address and port, e.g. 127.0.0.1:7072");
  }
  return tcp::endpoint(addr, a->port);
}

// Compare without leaking where the first difference is.
bool same_secret(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  }
  return diff == 0;
}

std::string pick_address(const tcp::resolver::results_type& results, const std::string& mode) {
  std::string first;
  for (const auto& r : results) {
    const auto a = r.endpoint().address();
    if (first.empty()) {
      first = a.to_string();
    }
    if (mode == "ipv6" ? a.is_v6() : a.is_v4()) {
      return a.to_string();
    }
  }
  return mode == "both" ? first : std::string();
}

}  // namespace

struct LookupServer::Impl {
  LookupServerOptions options;
  IndexLoader loader;
  asio::io_context io{1};
  asio::thread_pool builder{1};  // blocking store reads happen here only
  std::atomic<std::shared_ptr<const RouteIndex>> index;
  std::map<std::string, DnsEntry> dns;  // io thread only
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> reloads{0};
  std::atomic<std::uint64_t> reload_failures{0};
  int active = 0;  // io thread only
  int draining = 0;  // refused callers whose 403 is being delivered; io thread only
  static constexpr int k_max_draining = 64;
  std::unique_ptr<asio::steady_timer> slot_freed;  // wakes the accept loop at the cap

  bool peer_allowed(const tcp::endpoint& peer) const {
    if (options.allowed_peers.empty()) {
      return true;
    }
    auto addr = peer.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
      addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
    }
    return ip_allowed(addr.to_string(), options.allowed_peers);
  }

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
    index.store(std::move(*loaded));
    ++reloads;
    return true;
  }

  awaitable<bool> load_async(std::string why) { co_return load_now(why); }

  awaitable<std::string> resolve(std::string host, std::string mode) {
    const auto now = std::chrono::steady_clock::now();
    const std::string key = host + "/" + mode;
    if (const auto it = dns.find(key); it != dns.end() && it->second.expires > now) {
      co_return it->second.address;
    }
    boost::system::error_code ec;
    const auto parsed = asio::ip::make_address(host, ec);
    if (!ec) {
      co_return parsed.to_string();
    }
    tcp::resolver resolver(co_await asio::this_coro::executor);
    auto [rec, results] = co_await resolver.async_resolve(host, "", net::use_nothrow);
    std::string address = rec ? std::string() : pick_address(results, mode);
    if (!address.empty()) {
      dns[key] = DnsEntry{address, now + k_dns_ttl};
    }
    co_return address;
  }

  awaitable<LookupResponse> answer(http::request<http::empty_body> req, tcp::endpoint peer) {
    Headers headers;
    for (const auto& f : req) {
      headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    auto parsed = parse_lookup_request(headers);
    const auto current = index.load();
    const int wait = 10;
    if (!parsed) {
      co_return LookupResponse::error(parsed.error().message, wait);
    }
    LookupAnswer a = handle_lookup(*parsed, *current, options.handler_server);
    // Stock nginx (auth_http) sends the real password and insists on getting
    // it back in Auth-Pass; Zimbra's proxy and ours send the placeholder and
    // get none. The password is never logged.
    if (a.response.ok && parsed->password != "_password_" && !parsed->password.empty()) {
      a.response.token = parsed->password;
    }
    if (a.response.ok && a.resolve_host) {
      const std::string host = a.response.server;
      std::string address = co_await resolve(host, a.ip_mode);
      if (address.empty()) {
        co_return LookupResponse::error("cannot resolve mail host " + host + " (" + a.ip_mode + ")",
                                        a.response.wait_seconds == 0 ? wait : a.response.wait_seconds);
      }
      a.response.server = address;
    }
    (void)peer;
    co_return a.response;
  }

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
    if (pec || !peer_allowed(peer)) {
      // Not a caller we know: refused before reading a byte of the request,
      // and without a place under max_connections (refused callers cannot
      // crowd out allowed ones); past k_max_draining at once, closed at once.
      ++refused;
      if (draining >= k_max_draining) {
        co_return;
      }
      ++draining;
      struct Drained {
        int& n;
        ~Drained() { --n; }
      } drained{draining};
      static constexpr std::string_view k_forbidden =
          "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      [[maybe_unused]] const auto sent = ::send(socket.native_handle(), k_forbidden.data(),
                                                k_forbidden.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      socket.shutdown(tcp::socket::shutdown_send, pec);
      // What the caller sent already is discarded unread (at most 16 KiB
      // within 1 s), so that closing does not reset the connection before
      // the 403 arrives.
      beast::tcp_stream drain(std::move(socket));
      drain.expires_after(std::chrono::seconds(1));
      std::array<char, 4096> sink;
      for (int i = 0; i < 4; ++i) {
        auto [rec, rn] = co_await drain.async_read_some(asio::buffer(sink), net::use_nothrow);
        if (rec) {
          break;
        }
      }
      co_return;
    }
    Slot slot(this);
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    stream.socket().set_option(tcp::no_delay(true), pec);
    while (true) {
      http::request_parser<http::empty_body> parser;
      parser.header_limit(16 * 1024);
      stream.expires_after(k_idle_timeout);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, net::use_nothrow);
      if (ec) {
        break;  // closed, timed out or malformed: nothing more to say
      }
      auto req = parser.release();
      http::response<http::empty_body> res;
      res.version(req.version());
      res.keep_alive(req.keep_alive());
      const std::string_view target(req.target().data(), req.target().size());
      const std::string_view path = target.substr(0, target.find('?'));
      ++requests;
      std::string body_headers;
      if (!options.secret.empty() &&
                 !same_secret(req[beast::string_view(k_secret_header.data(), k_secret_header.size())],
                              options.secret)) {
        ++refused;
        res.result(http::status::forbidden);
        res.keep_alive(false);
      } else if (path != k_lookup_path) {
        res.result(http::status::not_found);
      } else if (req.method() != http::verb::get) {
        res.result(http::status::method_not_allowed);
      } else {
        LookupResponse r = co_await answer(std::move(req), peer);
        if (!r.ok) {
          ++errors;
        }
        res.result(http::status::ok);
        body_headers = format_lookup_response(r);
      }
      res.content_length(0);
      // Serialise the header ourselves: the Auth-* lines are already formatted.
      std::string out = "HTTP/1." + std::to_string(res.version() % 10) + " " +
                        std::to_string(res.result_int()) + " " + std::string(res.reason()) + "\r\n";
      out += body_headers;
      out += "Content-Length: 0\r\n";
      out += res.keep_alive() ? (res.version() == 10 ? "Connection: keep-alive\r\n" : "")
                              : "Connection: close\r\n";
      out += "\r\n";
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(out), net::use_nothrow);
      if (wec || !res.keep_alive()) {
        break;
      }
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  awaitable<void> accept_loop(tcp::acceptor acceptor) {
    net::AcceptBackoff backoff;
    slot_freed = std::make_unique<asio::steady_timer>(io);
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
    const std::string cmd = core::to_lower(core::trim(*line));
    std::string reply;
    if (cmd == "flush") {
      dns.clear();
      // Rebuild on the builder thread; this coroutine resumes here when done.
      const bool ok = co_await asio::co_spawn(builder, load_async("flush"), asio::use_awaitable);
      reply = ok ? "OK flushed\n" : "ERROR cannot reload the store; see the log\n";
    } else if (cmd == "stats") {
      const auto current = index.load();
      reply = "{\"requests\":" + std::to_string(requests.load()) +
              ",\"errors\":" + std::to_string(errors.load()) +
              ",\"refused\":" + std::to_string(refused.load()) +
              ",\"reloads\":" + std::to_string(reloads.load()) +
              ",\"reload_failures\":" + std::to_string(reload_failures.load()) +
              ",\"accounts\":" + std::to_string(current ? current->accounts().size() : 0) + "}\n";
    } else {
      reply = "ERROR unknown command; use FLUSH or STATS\n";
    }
    co_await asio::async_write(socket, asio::buffer(reply), net::use_nothrow);
  }
};

Result<void> check_listen_policy(const std::string& listen, bool has_secret) {
  auto endpoint = parse_listen(listen);
  if (!endpoint) {
    return tl::unexpected(endpoint.error());
  }
  auto address = endpoint->address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  if (!has_secret && !address.is_loopback()) {
    return fail(Errc::permission_denied,
                "refusing to listen on " + listen +
                    " without a caller secret: anyone who reaches it could read every route; set "
                    "one (zmlocalconfig -e zmlookupd_secret=$(openssl rand -hex 32); the proxies "
                    "send it as route.secret) or listen on 127.0.0.1");
  }
  return {};
}

LookupServer::LookupServer(LookupServerOptions options, IndexLoader loader)
    : m_impl(std::make_unique<Impl>()) {
  m_impl->options = std::move(options);
  m_impl->loader = std::move(loader);
}

LookupServer::~LookupServer() {
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
  // The store is used by the builder thread only (the change feed may be
  // loading already): load there and wait.
  std::promise<bool> first;
  auto first_loaded = first.get_future();
  asio::post(s.builder, [&s, &first] { first.set_value(s.load_now("start")); });
  if (!first_loaded.get()) {
    s.index.store(RouteIndex::from_entries({}));
    ZMPROXY_LOG(warn, "zmlookupd", "starting with an empty index; lookups fail until the store is readable");
  }
  if (auto allowed = check_listen_policy(s.options.listen, !s.options.secret.empty()); !allowed) {
    ZMPROXY_LOG(error, "zmlookupd", "{}", allowed.error().message);
    return 1;
  }
  if (s.options.max_connections < 1) {
    ZMPROXY_LOG(error, "zmlookupd", "zmlookupd_max_connections must be at least 1");
    return 1;
  }
  tcp::acceptor acceptor(s.io);
  boost::system::error_code ec;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor.bind(*endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    ZMPROXY_LOG(error, "zmlookupd", "cannot listen on {}: {}; choose another port with --listen or "
                "zimbraExtensionBindPort", s.options.listen, ec.message());
    return 1;
  }
  const auto bound = acceptor.local_endpoint();
  const std::string where = (bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                     : bound.address().to_string()) +
                            ":" + std::to_string(bound.port());
  if (s.options.after_listen) {
    if (auto ok = s.options.after_listen(); !ok) {
      ZMPROXY_LOG(error, "zmlookupd", "{}", ok.error().message);
      return 1;
    }
  }
  asio::co_spawn(s.io, s.accept_loop(std::move(acceptor)), asio::detached);

  if (!s.options.control_socket.empty()) {
    auto control = net::open_control_acceptor(s.io, s.options.control_socket);
    if (!control) {
      ZMPROXY_LOG(warn, "zmlookupd", "no control socket: {}", control.error().message);
    } else {
      asio::co_spawn(s.io, s.control_loop(std::move(*control)), asio::detached);
    }
  }

  asio::signal_set signals(s.io, SIGINT, SIGTERM, SIGUSR1);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& sec, int sig) {
        if (sec) {
          return;
        }
        if (sig == SIGUSR1) {
          // logrotate renamed the log: write to a fresh file of the same name.
          if (log::reopen_file()) {
            ZMPROXY_LOG(info, "zmlookupd", "SIGUSR1: log file reopened");
          } else {
            ZMPROXY_LOG(error, "zmlookupd", "SIGUSR1: cannot reopen the log file; still writing the old one");
          }
          signals.async_wait(on_signal);
          return;
        }
        ZMPROXY_LOG(info, "zmlookupd", "stopping");
        s.io.stop();
      };
  signals.async_wait(on_signal);
  if (!s.options.address_file.empty()) {
    std::error_code fec;
    std::filesystem::create_directories(s.options.address_file.parent_path(), fec);
    if (auto w = core::write_file_atomic(s.options.address_file, where + "\n"); !w) {
      ZMPROXY_LOG(warn, "zmlookupd", "{}", w.error().message);
    }
  }
  ZMPROXY_LOG(info, "zmlookupd", "listening on {} for {}", where, k_lookup_path);
  s.io.run();
  std::error_code fec;
  if (!s.options.control_socket.empty()) {
    std::filesystem::remove(s.options.control_socket, fec);
  }
  if (!s.options.address_file.empty()) {
    std::filesystem::remove(s.options.address_file, fec);
  }
  return 0;
}

}  // namespace zmproxy::route

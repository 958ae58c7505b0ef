#include "lib/proxy/http/session.hpp"

#include <array>
#include <cstdlib>
#include <map>
#include <variant>

#include <fmt/format.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "lib/core/address.hpp"
#include "lib/core/strings.hpp"
#include "lib/log/logger.hpp"
#include "lib/proxy/http/body_pace.hpp"
#include "lib/proxy/http/forwarding.hpp"
#include "lib/proxy/http/log_redact.hpp"
#include "lib/proxy/http/mail_mode.hpp"
#include "lib/proxy/http/public_url.hpp"
#include "lib/proxy/http/request_target.hpp"
#include "lib/proxy/http/route_extract.hpp"
#include "lib/proxy/http/server_names.hpp"
#include "lib/proxy/http/upstream_pool.hpp"
#include "lib/net/deadline.hpp"
#include "lib/net/stream_io.hpp"
#include "lib/proxy/generation.hpp"
#include "lib/proxy/session_info.hpp"
#include "lib/route/lookup_handler.hpp"
#include "lib/route/route_resolver_asio.hpp"
#include "lib/tls/upstream_verify.hpp"

namespace zmproxy::proxy::http {

namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace asio = net::asio;
using asio::awaitable;
using net::tcp;
// Raw sockets: deadlines come from the worker's DeadlineSweeper, not from a
// timer per operation (beast::tcp_stream arms one for every read and write).
using Plain = tcp::socket;
using Tls = net::TlsStream;  // OpenSSL on the socket: no per-connection engine buffers
using Clock = std::chrono::steady_clock;

constexpr std::size_t k_chunk = 64 * 1024;

using net::lowest;

// The deadline of one operation on a stream: while it is alive, the socket
// under the stream is cancelled once `timeout` has passed.
class Timed : public net::DeadlineScope {
 public:
  template <class Stream>
  Timed(Stream& s, std::chrono::milliseconds timeout)
      : net::DeadlineScope(lowest(s).get_executor(), lowest(s), timeout) {}
  // The operation's error, or timeout when the deadline cut it.
  beast::error_code result(beast::error_code ec) const {
    return expired() ? beast::error_code(beast::error::timeout) : ec;
  }
};

std::string page(int status, std::string_view title, std::string_view text) {
  return "<!DOCTYPE html><html><head><title>" + std::to_string(status) + " " + std::string(title) +
         "</title></head><body><h1>" + std::string(title) + "</h1><p>" + std::string(text) +
         "</p></body></html>\n";
}

// Header field storage for one connection's messages: a bump allocator over
// a block the connection owns, emptied when a request is done; past the
// block, the heap. A parsed header costs no allocation per field (Beast's
// basic_fields allocates a node for each).
class Arena {
 public:
  Arena() noexcept {}  // user-provided: the block is not zero-filled  // NOLINT(modernize-use-equals-default)
  void* allocate(std::size_t n, std::size_t align) {
    const std::size_t at = (m_used + align - 1) & ~(align - 1);
    if (at + n <= sizeof m_block) {
      m_used = at + n;
      return m_block + at;
    }
    return ::operator new(n);
  }
  void deallocate(void* p) noexcept {
    const auto* c = static_cast<const char*>(p);
    if (c < m_block || c >= m_block + sizeof m_block) {
      ::operator delete(p);
    }
  }
  // Only once nothing allocated here is alive.
  void reset() noexcept { m_used = 0; }

 private:
  alignas(std::max_align_t) char m_block[4096];
  std::size_t m_used = 0;
};

template <class T>
class ArenaAllocator {
 public:
  using value_type = T;
  explicit ArenaAllocator(Arena& a) noexcept : m_arena(&a) {}
  template <class U>
  ArenaAllocator(const ArenaAllocator<U>& o) noexcept : m_arena(o.arena()) {}  // NOLINT: rebinding
  T* allocate(std::size_t n) { return static_cast<T*>(m_arena->allocate(n * sizeof(T), alignof(T))); }
  void deallocate(T* p, std::size_t) noexcept { m_arena->deallocate(p); }
  Arena* arena() const noexcept { return m_arena; }
  friend bool operator==(const ArenaAllocator& a, const ArenaAllocator& b) noexcept {
    return a.m_arena == b.m_arena;
  }
  friend bool operator!=(const ArenaAllocator& a, const ArenaAllocator& b) noexcept { return !(a == b); }

 private:
  Arena* m_arena;
};

using FieldsAllocator = ArenaAllocator<char>;
using RequestParser = bhttp::request_parser<bhttp::buffer_body, FieldsAllocator>;
using ResponseParser = bhttp::response_parser<bhttp::buffer_body, FieldsAllocator>;

struct Ctx {
  std::shared_ptr<const proxy::Generation> shared;
  const config::ProxyConfig& cfg;
  proxy::SessionInfo info;
  bool tls;
  bool admin;
  std::uint64_t requests = 0;
  // The request being served, for its access log line.
  std::string request_line;
  std::string referer;
  std::string user_agent;
  int status = 0;
  // Per request, kept for their capacity: the outgoing header and the
  // forwarding fields added to the request.
  std::string head;
  std::string forwarded;
  std::string client_xff;  // a trusted peer's X-Forwarded-For chain
  Arena arena;  // the current request's and response's header fields
  bool peer_trusted = false;  // the peer is in http.trusted_proxies
};

template <class Stream>
awaitable<bool> send_simple(Ctx& c, Stream& client, unsigned version, bhttp::status status,
                            std::string text, bool keep_alive,
                            std::vector<std::pair<std::string, std::string>> extra) {
  bhttp::response<bhttp::string_body> res{status, version};
  res.set(bhttp::field::content_type, "text/html; charset=utf-8");
  for (const auto& [k, v] : extra) {
    res.set(k, v);
  }
  for (const std::string& line : c.cfg.http.response_headers) {
    const auto colon = line.find(':');
    res.set(std::string(core::trim(std::string_view(line).substr(0, colon))),
            std::string(core::trim(std::string_view(line).substr(colon + 1))));
  }
  res.body() = page(static_cast<int>(status), std::string(bhttp::obsolete_reason(status)), text);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  c.status = static_cast<int>(status);
  Timed deadline(client, c.cfg.http.send_timeout);
  auto [ec, n] = co_await bhttp::async_write(client, res, net::use_nothrow);
  c.info.bytes_out += n;
  co_return !ec && !deadline.expired() && keep_alive;
}

// A message header as it goes out: the start line, then the fields in
// their order. Written by hand rather than by Beast's serializer, whose
// buffer-sequence machinery cost more than the rest of a small request.
template <class Fields>
void serialize_header(std::string& out, const bhttp::request_header<Fields>& h) {
  out.clear();
  out.append(h.method_string().data(), h.method_string().size());
  out.push_back(' ');
  out.append(h.target().data(), h.target().size());
  out.append(h.version() == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
}

template <class Fields>
void serialize_header(std::string& out, const bhttp::response_header<Fields>& h) {
  out.clear();
  out.append(h.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out.append(std::to_string(h.result_int()));
  out.push_back(' ');
  const auto reason = h.reason().empty() ? bhttp::obsolete_reason(h.result()) : h.reason();
  out.append(reason.data(), reason.size());
  out.append("\r\n");
}

// The fields but those `drop` names, then `extra` (whole lines), then the
// blank line.
template <class Header, class Drop>
void serialize_fields(std::string& out, const Header& h, std::string_view extra, Drop drop) {
  for (const auto& f : h) {
    const auto name = f.name_string();
    if (drop(std::string_view(name.data(), name.size()))) {
      continue;
    }
    out.append(name.data(), name.size());
    out.append(": ");
    out.append(f.value().data(), f.value().size());
    out.append("\r\n");
  }
  out.append(extra);
  out.append("\r\n");
}

struct RelayResult {
  beast::error_code ec;
  bool reading = false;  // the error came from the side read
};

// Send `head` (may be empty), then the message body as the parser yields
// it: unchanged, or re-framed in chunks when `chunked` (the parser took the
// incoming framing off; trailers are not passed on). The head leaves with
// the first piece of the body, in one write. With a `pace`, a body slower
// than it is cut (timeout, reading).
template <class In, class Out, bool isRequest, class Allocator>
awaitable<RelayResult> relay_raw(In& in, beast::flat_buffer& inbuf,
                                 bhttp::parser<isRequest, bhttp::buffer_body, Allocator>& p, Out& out,
                                 std::string_view head, bool chunked, std::chrono::milliseconds read_timeout,
                                 std::chrono::milliseconds write_timeout, std::uint64_t& read_bytes,
                                 std::uint64_t& written_bytes, const BodyPace* pace = nullptr) {
  // A known short body gets a buffer of its size (a 1 KiB answer does not
  // allocate and free 64 KiB); others are copied 64 KiB at a time.
  const auto remaining = p.is_done() ? boost::optional<std::uint64_t>(0) : p.content_length_remaining();
  const std::size_t chunk = remaining && *remaining < k_chunk ? std::max<std::size_t>(*remaining, 1) : k_chunk;
  std::unique_ptr<char[]> buf(new char[chunk]);  // uninitialised: written before it is read
  // Beast reads into `inbuf` only as much as its free capacity: left at the
  // few hundred bytes a header needed, a body would come in 512-byte reads.
  if (inbuf.capacity() < chunk) {
    inbuf.reserve(chunk);
  }
  char frame[24];  // "<hex size>\r\n"
  static constexpr std::string_view k_crlf = "\r\n";
  static constexpr std::string_view k_last = "0\r\n\r\n";
  std::uint64_t body_in = 0;
  while (true) {
    std::size_t n = 0;
    if (!p.is_done()) {
      p.get().body().data = buf.get();
      p.get().body().size = chunk;
      auto timeout = read_timeout;
      if (pace != nullptr) {
        const auto allowed = pace->allowance(body_in, net::coarse_now());
        if (allowed.count() <= 0) {
          co_return RelayResult{beast::error::timeout, true};
        }
        timeout = std::min(timeout, allowed);
      }
      // What has arrived goes on at once (async_read would wait for a full
      // buffer: a streamed answer would stall in the proxy).
      Timed deadline(in, timeout);
      auto [read_ec, rn] = co_await bhttp::async_read_some(in, inbuf, p, net::use_nothrow);
      auto ec = deadline.result(read_ec);
      if (ec && ec != bhttp::error::need_buffer) {
        co_return RelayResult{ec, true};
      }
      n = chunk - p.get().body().size;
      read_bytes += n;
      body_in += n;
    }
    std::size_t frame_size = 0;
    if (chunked && n > 0) {
      frame_size = static_cast<std::size_t>(std::snprintf(frame, sizeof frame, "%zx\r\n", n));
    }
    const bool last = p.is_done();
    const std::array<asio::const_buffer, 5> pieces{
        asio::buffer(head.data(), head.size()), asio::buffer(frame, frame_size), asio::buffer(buf.get(), n),
        asio::buffer(k_crlf.data(), frame_size > 0 ? k_crlf.size() : 0),
        asio::buffer(k_last.data(), chunked && last ? k_last.size() : 0)};
    head = {};
    if (asio::buffer_size(pieces) > 0) {
      Timed deadline(out, write_timeout);
      auto [write_ec, wn] = co_await asio::async_write(out, pieces, net::use_nothrow);
      written_bytes += wn;
      if (auto wec = deadline.result(write_ec)) {
        co_return RelayResult{wec, false};
      }
    }
    if (last) {
      co_return RelayResult{};
    }
  }
}

constexpr auto k_keep_all = [](std::string_view) { return false; };

// HTTP2-Settings goes with `Upgrade: h2c`, which is never passed on.
bool is_hop_by_hop(std::string_view name) {
  for (std::string_view h : {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
                             "proxy-authorization", "te", "trailer", "upgrade", "http2-settings"}) {
    if (core::iequals(name, h)) {
      return true;
    }
  }
  return false;
}

// One direction of an upgraded tunnel; `last` is when either direction
// last carried a byte.
template <class A, class B>
awaitable<void> pipe(A& from, B& to, std::uint64_t& counted, Clock::time_point& last,
                     std::chrono::milliseconds write_timeout) {
  std::unique_ptr<char[]> buf(new char[16 * 1024]);  // uninitialised: it is written before it is read
  while (true) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf.get(), 16 * 1024), net::use_nothrow);
    if (ec || n == 0) {
      co_return;
    }
    last = net::coarse_now();
    Timed deadline(to, write_timeout);
    auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.get(), n), net::use_nothrow);
    if (wec || deadline.expired()) {
      co_return;
    }
    counted += n;
  }
}

// Ends once neither direction of a tunnel has carried a byte for `idle`.
awaitable<void> idle_watch(const Clock::time_point& last, std::chrono::milliseconds idle) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    timer.expires_at(last + idle);
    auto [ec] = co_await timer.async_wait(net::use_nothrow);
    if (ec == asio::error::operation_aborted) {
      co_return;  // the tunnel ended first (its other branches won)
    }
    if (net::coarse_now() >= last + idle) {
      co_return;
    }
  }
}

template <class Message>
bool version_11(const Message& m) {
  return m.version() >= 11;
}

struct Target {
  std::string host;
  int port = 0;
  bool from_ip_hash = false;
  std::string domain;  // the user's domain, when the route came from a name
};

// An http.upstreams / admin_upstreams entry (checked when the configuration
// was read; port 80 when it names none).
Target peer_target(const std::string& entry) {
  const core::ParsedAddress a = core::parse_address(entry, {80});
  return Target{a->host, a->port, true, {}};
}

// Zimbra's REST URL rules: the domain's public service, else the global one,
// else the scheme and Host the client used.
std::string public_base(const Ctx& c, const std::string& host_header, const Target& t) {
  const auto& h = c.cfg.http;
  PublicUrlInput in;
  for (const std::string& entry : h.domain_public_services) {
    const auto words = core::split(std::string(core::trim(entry)), ' ');
    if (words.size() >= 2 && !t.domain.empty() && core::iequals(words[0], t.domain)) {
      in.domain_public_hostname = words[1];
      in.domain_public_protocol = words.size() >= 3 ? words[2] : std::string();
      in.domain_public_port = words.size() >= 4 ? std::atoi(words[3].c_str()) : 0;
    }
  }
  in.global_public_hostname = h.public_hostname;
  in.global_public_protocol = h.public_protocol;
  in.global_public_port = h.public_port;
  if (in.domain_public_hostname.empty() && in.global_public_hostname.empty()) {
    return std::string(c.tls ? "https" : "http") + "://" + host_header;
  }
  return public_base_url(in);
}

// What serve_request decides about a request once, before any attempt: an
// attempt on a second connection must not re-derive it from a header whose
// hop-by-hop fields are already gone.
struct Prepared {
  bool upgrade = false;          // a WebSocket upgrade (the only one passed on)
  bool expect_continue = false;  // the client waits for "100 Continue"
  std::chrono::milliseconds read_timeout{0};
};

// Run one request/response exchange on `up` (fresh or reused). nullopt:
// nothing of the answer reached the client and the request may be tried on
// another connection; else whether the client connection stays open.
template <class Client, class Up>
awaitable<std::optional<bool>> exchange(Ctx& c, Client& client, beast::flat_buffer& cbuf,
                                        RequestParser& rp, const Prepared& prep, Up& up,
                                        beast::flat_buffer& ubuf, const Target& t, bool& upstream_reusable,
                                        bool& response_started) {
  auto& req = rp.get();
  const auto read_timeout = prep.read_timeout;
  // The request header, written by hand; the body follows as it came (a
  // chunked one re-framed). Forwarding fields are ours (forwarding.hpp).
  std::string& head = c.head;
  serialize_header(head, req.base());
  serialize_fields(head, req.base(), c.forwarded,
                   [trusted = c.peer_trusted](std::string_view name) { return drop_client_field(name, trusted); });
  beast::error_code hec;
  {
    Timed deadline(up, c.cfg.http.send_timeout);
    auto [write_ec, hn] = co_await asio::async_write(up, asio::buffer(head), net::use_nothrow);
    hec = deadline.result(write_ec);
  }
  if (hec) {
    co_return std::nullopt;  // stale pooled connection or dead server: retry elsewhere
  }
  if (prep.expect_continue && !rp.is_done()) {
    static constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";
    Timed deadline(client, c.cfg.http.send_timeout);
    auto [cec, cn] = co_await asio::async_write(client, asio::buffer(k_continue.data(), k_continue.size()),
                                                net::use_nothrow);
    if (cec || deadline.expired()) {
      upstream_reusable = false;
      co_return false;
    }
  }
  bool body_sent = false;
  if (!rp.is_done()) {
    std::uint64_t sent_up = 0;
    const BodyPace pace{Clock::now(), c.cfg.http.body_timeout, c.cfg.http.body_min_rate};
    const auto relayed = co_await relay_raw(client, cbuf, rp, up, std::string_view(), req.chunked(),
                                            c.cfg.http.client_timeout, c.cfg.http.send_timeout, c.info.bytes_in,
                                            sent_up, &pace);
    if (relayed.ec) {
      upstream_reusable = false;  // half a request went up: this connection is done
      if (relayed.reading && relayed.ec == beast::error::timeout) {
        response_started = true;
        co_await send_simple(c, client, req.version(), bhttp::status::request_timeout,
                             "The request body came too slowly.", false, {});
      }
      co_return false;
    }
    // Only a real body makes the request unrepeatable.
    body_sent = req.chunked() || (req.has_content_length() && req[bhttp::field::content_length] != "0");
  }
  // Response header; interim 1xx answers (but 101) are skipped.
  std::optional<ResponseParser> resp_holder;
  beast::error_code rec;
  while (true) {
    resp_holder.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(FieldsAllocator(c.arena)));
    resp_holder->body_limit(boost::none);
    resp_holder->header_limit(64 * 1024);
    resp_holder->skip(req.method() == bhttp::verb::head);  // a HEAD answer has no body
    Timed deadline(up, read_timeout);
    auto [e, rn] = co_await bhttp::async_read_header(up, ubuf, *resp_holder, net::use_nothrow);
    rec = deadline.result(e);
    const unsigned code = resp_holder->get().result_int();
    if (rec || code < 100 || code >= 200 || code == 101) {
      break;
    }
  }
  auto& resp = *resp_holder;
  if (rec) {
    upstream_reusable = false;
    if (body_sent && rec != beast::error::timeout) {
      // The client's body is gone: the request cannot be tried elsewhere.
      response_started = true;
      co_await send_simple(c, client, req.version(), bhttp::status::bad_gateway,
                           std::string("The mailbox server closed the connection."), false, {});
      co_return false;
    }
    if (rec == beast::error::timeout) {
      response_started = true;
      co_await send_simple(c, client, req.version(), bhttp::status::gateway_timeout,
                           "The mailbox server did not answer in time.", false, {});
      co_return false;
    }
    co_return std::nullopt;
  }
  response_started = true;
  auto& res = resp.get();
  c.status = static_cast<int>(res.result_int());
  const bool upstream_keep_alive = res.keep_alive();
  const bool switching = res.result() == bhttp::status::switching_protocols;
  if (switching && !prep.upgrade) {
    // A switch nobody asked for: the bytes after it are not HTTP.
    upstream_reusable = false;
    co_await send_simple(c, client, req.version(), bhttp::status::bad_gateway,
                         "The mailbox server switched protocols unasked.", false, {});
    co_return false;
  }
  // Location: an internal mailbox URL becomes the public one.
  if (auto loc = res.find(bhttp::field::location); loc != res.end()) {
    const std::string internal = std::string("http") + (c.cfg.upstream.ssl ? "s" : "") + "://" +
                                 core::format_address(t.host, static_cast<unsigned>(t.port));
    res.set(bhttp::field::location,
            rewrite_location(loc->value(), internal, public_base(c, std::string(req[bhttp::field::host]), t)));
  }
  for (auto it = res.begin(); it != res.end();) {
    it = is_hop_by_hop(it->name_string()) ? res.erase(it) : std::next(it);
  }
  for (const std::string& line : c.cfg.http.response_headers) {
    const auto colon = line.find(':');
    res.set(std::string(core::trim(std::string_view(line).substr(0, colon))),
            std::string(core::trim(std::string_view(line).substr(colon + 1))));
  }
  if (switching) {
    // RFC 6455 §4.1: the client fails a 101 without these two.
    upstream_reusable = false;
    serialize_header(head, res.base());
    serialize_fields(head, res.base(), "Connection: Upgrade\r\nUpgrade: websocket\r\n", k_keep_all);
    beast::error_code wec;
    {
      Timed deadline(client, c.cfg.http.send_timeout);
      auto [write_ec, wn] = co_await asio::async_write(client, asio::buffer(head), net::use_nothrow);
      wec = deadline.result(write_ec);
    }
    if (wec) {
      co_return false;
    }
    // Bytes already read on either side go first, then a tunnel that ends
    // when either side closes or both have been idle for tunnel_idle_timeout.
    if (ubuf.size() > 0) {
      Timed deadline(client, c.cfg.http.send_timeout);
      co_await asio::async_write(client, ubuf.data(), net::use_nothrow);
      ubuf.consume(ubuf.size());
    }
    if (cbuf.size() > 0) {
      Timed deadline(up, c.cfg.http.send_timeout);
      co_await asio::async_write(up, cbuf.data(), net::use_nothrow);
      cbuf.consume(cbuf.size());
    }
    using namespace asio::experimental::awaitable_operators;
    std::uint64_t down = 0;
    Clock::time_point last = net::coarse_now();
    const auto wt = c.cfg.http.send_timeout;
    co_await (pipe(client, up, c.info.bytes_in, last, wt) || pipe(up, client, down, last, wt) ||
              idle_watch(last, c.cfg.http.tunnel_idle_timeout));
    c.info.bytes_out += down;
    co_return false;
  }
  bool client_keep_alive = req.keep_alive();
  // A body delimited by the upstream closing cannot be on a kept-alive client
  // connection: an HTTP/1.1 client gets it chunked, an HTTP/1.0 one until
  // the connection closes.
  const auto code = static_cast<int>(res.result_int());
  if (!res.has_content_length() && !res.chunked() && !resp.is_done() && code >= 200 && code != 204 &&
      code != 304) {
    if (version_11(req)) {
      res.chunked(true);
    } else {
      client_keep_alive = false;
    }
  }
  res.keep_alive(client_keep_alive);
  serialize_header(head, res.base());
  serialize_fields(head, res.base(), {}, k_keep_all);
  // An answer to HEAD, a 204 or a 304 has no body, not even an empty chunked
  // one, whatever its header says.
  const bool has_body = req.method() != bhttp::verb::head && code != 204 && code != 304;
  std::uint64_t read_up = 0;
  const auto relayed = co_await relay_raw(up, ubuf, resp, client, std::string_view(head), res.chunked() && has_body,
                                          read_timeout, c.cfg.http.send_timeout, read_up, c.info.bytes_out);
  if (relayed.ec) {
    upstream_reusable = false;
    co_return false;
  }
  // An upstream that was asked to upgrade and declined may still act on the
  // request's Connection: Upgrade later: not kept (nor is anything with
  // bytes left over; the pool checks that).
  upstream_reusable = upstream_keep_alive && !prep.upgrade;
  co_return client_keep_alive;
}

template <class Client>
awaitable<bool> serve_request(Ctx& c, Client& client, beast::flat_buffer& cbuf) {
  const auto& h = c.cfg.http;
  RequestParser rp(std::piecewise_construct, std::make_tuple(), std::make_tuple(FieldsAllocator(c.arena)));
  rp.header_limit(static_cast<std::uint32_t>(h.max_header_size));
  rp.body_limit(h.upload_max > 0 ? boost::optional<std::uint64_t>(static_cast<std::uint64_t>(h.upload_max))
                                  : boost::none);
  beast::error_code ec;
  std::size_t n = 0;
  {
    Timed deadline(client, h.client_timeout);
    auto [read_ec, read_n] = co_await bhttp::async_read_header(client, cbuf, rp, net::use_nothrow);
    ec = deadline.result(read_ec);
    n = read_n;
  }
  if (ec) {
    if (ec == bhttp::error::body_limit) {
      co_await send_simple(c, client, 11, bhttp::status::payload_too_large,
                           std::string("The upload is larger than zimbraFileUploadMaxSize allows."), false, {});
    } else if (ec == bhttp::error::header_limit) {
      co_await send_simple(c, client, 11, bhttp::status::request_header_fields_too_large,
                           "The request header is too large.", false, {});
    } else if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
               ec != asio::error::eof && ec != asio::error::connection_reset &&
               ec != asio::ssl::error::stream_truncated) {
      co_await send_simple(c, client, 11, bhttp::status::bad_request, "The request is malformed.", false, {});
    }
    co_return false;
  }
  c.info.bytes_in += n;
  ++c.requests;
  auto& req = rp.get();
  // assign/append: the strings keep their capacity from request to request.
  c.request_line.assign(req.method_string().data(), req.method_string().size());
  c.request_line.append(" ").append(req.target().data(), req.target().size());
  c.request_line.append(req.version() == 10 ? " HTTP/1.0" : " HTTP/1.1");
  const auto referer = req[bhttp::field::referer];
  c.referer.assign(referer.data(), referer.size());
  const auto agent = req[bhttp::field::user_agent];
  c.user_agent.assign(agent.data(), agent.size());
  const unsigned version = req.version();
  // Absolute-form ("GET http://host/ HTTP/1.1"): its authority replaces the
  // Host header (RFC 9112 §3.2.2), so the strict-server-name check below
  // judges it, and the mailbox gets origin-form. Other forms are refused.
  {
    const RequestTarget form = classify_target(std::string_view(req.target().data(), req.target().size()),
                                               req.method() == bhttp::verb::options);
    if (form.form == RequestTarget::Form::invalid) {
      co_return co_await send_simple(c, client, version, bhttp::status::bad_request,
                                     "The request target is malformed.", false, {});
    }
    if (form.form == RequestTarget::Form::absolute) {
      const std::string authority(form.authority);
      std::string origin = form.origin.empty() || form.origin.front() == '?' ? "/" : "";
      origin.append(form.origin);
      req.set(bhttp::field::host, authority);
      req.target(origin);
    }
  }
  // Views into the parsed request, which outlives them; the hop-by-hop
  // fields are taken out below, never these.
  const std::string_view target(req.target().data(), req.target().size());
  const auto host_field = req[bhttp::field::host];
  const std::string_view host(host_field.data(), host_field.size());
  // Request smuggling: Transfer-Encoding together with Content-Length.
  if (req.count(bhttp::field::transfer_encoding) != 0 && req.count(bhttp::field::content_length) != 0) {
    co_await send_simple(c, client, version, bhttp::status::bad_request,
                         "Content-Length and Transfer-Encoding together are not accepted.", false, {});
    co_return false;
  }
  if (h.upload_max > 0 && req.has_content_length() &&
      std::stoull(std::string(req[bhttp::field::content_length])) > static_cast<std::uint64_t>(h.upload_max)) {
    co_return co_await send_simple(c, client, version, bhttp::status::payload_too_large,
                                   std::string("The upload is larger than zimbraFileUploadMaxSize allows."), false, {});
  }
  if (has_raw_crlf_escape(target)) {
    co_return co_await send_simple(c, client, version, bhttp::status::forbidden,
                                   "Line breaks are not allowed in the address.", rp.is_done() && req.keep_alive(), {});
  }
  // Strict names need names: with none configured every Host passes.
  if (!host_allowed(host, h.server_names, h.strict_server_name && !h.server_names.empty())) {
    co_return co_await send_simple(c, client, version, bhttp::status::bad_request,
                                   "Unknown server name.", rp.is_done() && req.keep_alive(), {});
  }
  const auto mode = c.admin ? MailMode::https : parse_mail_mode(h.mode).value_or(MailMode::both);
  const auto cookie_field = req[bhttp::field::cookie];
  const std::string_view cookie(cookie_field.data(), cookie_field.size());
  const auto decision = decide(mode, c.tls, host, target, has_auth_token_cookie(cookie),
                               c.shared->https_port != 0 ? c.shared->https_port : h.ssl_port,
                               c.shared->http_port != 0 ? c.shared->http_port : h.port);
  if (decision.bad_host) {
    co_return co_await send_simple(c, client, version, bhttp::status::bad_request,
                                   std::string("The Host header is missing or malformed."), false, {});
  }
  if (decision.redirect) {
    std::vector<std::pair<std::string, std::string>> location;
    location.emplace_back("Location", decision.location);
    co_return co_await send_simple(c, client, version, bhttp::status::found, std::string("Moved."),
                                   rp.is_done() && req.keep_alive(), std::move(location));
  }
  // Where to?
  const auto authorization = req[bhttp::field::authorization];
  RequestView view{std::string_view(req.method_string().data(), req.method_string().size()), target, host,
                   cookie, std::string_view(authorization.data(), authorization.size()), c.user_agent};
  const RouteKey key = c.admin ? extract_admin_route(view) : extract_route(view);
  const std::vector<std::string>& peers = c.admin ? h.admin_upstreams : h.upstreams;
  std::vector<Target> targets;
  if (key.kind != RouteKey::Kind::ip_hash) {
    route::RouteQuery q;
    q.user = key.value;
    q.by_id = key.kind == RouteKey::Kind::zimbra_id;
    q.admin = key.admin;
    // The admin console is always https on the mailbox (zimbraAdminPort).
    q.protocol = c.cfg.upstream.ssl || c.admin ? "httpssl" : "http";
    q.client_ip = c.info.client_ip;
    q.proxy_ip = c.info.local_ip;
    q.proxy_host = host;
    q.login_attempt = 0;
    auto r = co_await route::resolve(c.shared->resolver, q);
    if (auto* found = std::get_if<route::Route>(&r)) {
      const auto at = key.value.rfind('@');
      targets.push_back(Target{found->host, found->port, false,
                               key.kind == RouteKey::Kind::user && at != std::string::npos
                                   ? core::to_lower(key.value.substr(at + 1))
                                   : std::string()});
    } else if (std::get<route::RouteError>(r).code == Errc::permission_denied) {
      co_return co_await send_simple(c, client, version, bhttp::status::forbidden,
                                     "This address may not use this domain.", false, {});
    }
  }
  if (targets.empty() && !peers.empty()) {
    // IP hash over the mailbox web servers; on failure, rehash as nginx does
    // (each server at most once).
    std::vector<bool> used(peers.size(), false);
    for (std::size_t attempt = 0; attempt < 20 && targets.size() < peers.size(); ++attempt) {
      const std::size_t pick = ip_hash(c.info.client_ip, peers.size(), attempt);
      if (used[pick]) {
        continue;
      }
      used[pick] = true;
      targets.push_back(peer_target(peers[pick]));
    }
    for (std::size_t i = 0; i < used.size(); ++i) {  // any left after 20 rehashes
      if (!used[i]) {
        targets.push_back(peer_target(peers[i]));
      }
    }
  }
  if (targets.empty()) {
    co_return co_await send_simple(c, client, version, bhttp::status::bad_gateway,
                                   "No mailbox server is configured for this request.", false, {});
  }
  // Decided once for every attempt (an attempt must not re-derive them from
  // the header whose hop-by-hop fields are gone): the upgrade (WebSocket
  // only: h2c and the like are dropped with the hop-by-hop fields and the
  // request served as plain HTTP), Expect, the forwarding fields.
  Prepared prep;
  prep.upgrade = req.method() == bhttp::verb::get &&
                 bhttp::token_list{req[bhttp::field::connection]}.exists("upgrade") &&
                 bhttp::token_list{req[bhttp::field::upgrade]}.exists("websocket");
  prep.expect_continue = core::iequals(req[bhttp::field::expect], "100-continue");
  {
    const std::string_view path(target.data(), std::min(target.size(), target.find('?')));
    prep.read_timeout = is_long_poll(path) ? h.poll_timeout : h.read_timeout;
  }
  {
    ForwardingInput fwd;
    fwd.peer_ip = c.info.client_ip;
    fwd.scheme = c.tls ? "https" : "http";
    fwd.host = host;
    fwd.trusted_peer = c.peer_trusted;
    c.client_xff.clear();
    if (c.peer_trusted) {
      for (const auto& f : req) {
        const auto name = f.name_string();
        if (core::iequals(name, "X-Forwarded-For")) {
          c.client_xff.append(c.client_xff.empty() ? "" : ", ").append(f.value().data(), f.value().size());
        } else if (core::iequals(name, "X-Real-IP")) {
          fwd.client_has_real_ip = true;
        } else if (core::iequals(name, "X-Forwarded-Proto")) {
          fwd.client_has_proto = true;
        } else if (core::iequals(name, "X-Forwarded-Host")) {
          fwd.client_has_host = true;
        }
      }
    }
    fwd.client_xff = c.client_xff;
    c.forwarded.clear();
    append_forwarding_fields(c.forwarded, fwd);
    c.forwarded.append(prep.upgrade ? "Connection: Upgrade\r\nUpgrade: websocket\r\n" : "Connection: keep-alive\r\n");
  }
  for (auto it = req.begin(); it != req.end();) {
    it = is_hop_by_hop(it->name_string()) ? req.erase(it) : std::next(it);
  }
  req.erase(bhttp::field::expect);  // answered here: the body is streamed anyway
  for (const Target& t : targets) {
    // A TLS connection is kept for the client context (SSL_CTX) that verified
    // it: a reload (a new CA bundle, verification turned on) starts a new
    // pool. A kept connection holds its SSL_CTX, so no new one can take its
    // address while the old pool lives.
    const std::string pool_key =
        (c.cfg.upstream.ssl ? fmt::format("s{}:", static_cast<const void*>(c.shared->client_tls->native_handle())) : "p:") +
        core::format_address(t.host, static_cast<unsigned>(t.port));
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<UpstreamConn> conn =
          attempt == 0 ? UpstreamPool::of_this_thread().take(pool_key, net::coarse_now()) : nullptr;
      const bool reused = conn != nullptr;
      if (!conn) {
        auto socket = co_await net::connect_upstream(t.host, t.port, h.connect_timeout);
        if (!socket) {
          break;  // this server is down: next target, if any
        }
        conn = std::make_unique<UpstreamConn>();
        if (c.cfg.upstream.ssl) {
          auto s = std::make_unique<Tls>(std::move(*socket), *c.shared->client_tls);
          if (!tls::expect_upstream(s->native_handle(), t.host,
                                    !c.cfg.upstream.allow_untrusted_certs)) {
            break;
          }
          Timed deadline(*s, h.connect_timeout);
          auto [hec] = co_await s->async_handshake(asio::ssl::stream_base::client, net::use_nothrow);
          if (hec || deadline.expired()) {
            if (const std::string why = tls::certificate_failure(s->native_handle());
                !why.empty()) {
              ZMPROXY_LOG(warn, "http", "{}",
                          tls::untrusted_upstream_message(
                              core::format_address(t.host, static_cast<unsigned>(t.port)), why,
                              c.cfg.upstream.ca_file));
            }
            break;
          }
          conn->stream = std::move(s);
        } else {
          conn->stream = std::make_unique<Plain>(std::move(*socket));
        }
      }
      c.info.upstream = core::format_address(t.host, static_cast<unsigned>(t.port));
      bool reusable = false;
      bool started = false;
      std::optional<bool> result;
      if (auto* p = std::get_if<std::unique_ptr<Plain>>(&conn->stream)) {
        result = co_await exchange(c, client, cbuf, rp, prep, **p, conn->buffer, t, reusable, started);
      } else {
        result = co_await exchange(c, client, cbuf, rp, prep, *std::get<std::unique_ptr<Tls>>(conn->stream),
                                   conn->buffer, t, reusable, started);
      }
      if (result) {
        if (reusable) {
          UpstreamPool::of_this_thread().give(pool_key, std::move(conn), net::coarse_now());
        }
        c.info.outcome = "ok";
        co_return *result;
      }
      if (started || !reused) {
        break;
      }
      // A pooled connection the server had closed: once more, fresh.
    }
    if (!t.from_ip_hash) {
      // A looked-up route that failed: forget it so the next request asks again.
      co_await route::invalidate(c.shared->resolver, key.value, c.info.local_ip);
      break;
    }
  }
  c.info.outcome = "bad-gateway";
  co_return co_await send_simple(c, client, version, bhttp::status::bad_gateway,
                                 "The mailbox server is not reachable; try again later.", false, {});
}

// Combined log format plus the upstream and the duration.
// Query credentials (zauthtoken, zjwt, preauth, auth) in the request line and
// the Referer are redacted first (log_redact.hpp); cookies and Authorization
// are never logged.
void log_request(Ctx& c, std::uint64_t bytes, Clock::time_point started) {
  redact_credentials(c.request_line);
  redact_credentials(c.referer);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  fmt::memory_buffer line;
  auto field = [&line](std::string_view v) {
    if (v.empty()) {
      line.push_back('-');
    }
    for (char ch : v) {
      const auto u = static_cast<unsigned char>(ch);
      line.push_back((u < 0x20 || u == 0x7f || ch == '"') ? '?' : ch);
    }
  };
  auto text = [&line](std::string_view v) { line.append(v.data(), v.data() + v.size()); };
  text(c.info.client_ip);
  text(" - - [");
  text(log::clf_time());
  text("] \"");
  field(c.request_line);
  fmt::format_to(std::back_inserter(line), "\" {} {} \"", c.status, bytes);
  field(c.referer);
  text("\" \"");
  field(c.user_agent);
  text("\" ");
  field(c.info.upstream);
  fmt::format_to(std::back_inserter(line), " {}ms", ms);
  c.shared->access_log->write_line(std::string_view(line.data(), line.size()));
}

template <class Client>
awaitable<void> serve(Ctx& c, Client& client) {
  beast::flat_buffer cbuf;
  while (true) {
    c.request_line.clear();
    c.status = 0;
    c.arena.reset();  // the last request's parsers are gone
    c.info.upstream.clear();
    const auto started = Clock::now();
    const std::uint64_t out_before = c.info.bytes_out;
    const bool more = co_await serve_request(c, client, cbuf);
    if (cbuf.size() == 0 && cbuf.capacity() > 8 * 1024) {
      cbuf.shrink_to_fit();  // an upload's read buffer is not kept by an idle connection
    }
    if (!c.request_line.empty()) {
      log_request(c, c.info.bytes_out - out_before, started);
    }
    if (!more) {
      break;
    }
  }
}

}  // namespace

awaitable<void> run_session(std::shared_ptr<const proxy::Generation> shared, tcp::socket socket, bool tls,
                            ConnectionSlot slot, bool admin) {
  // Held for the session's life: the connection counters go down at its end.
  const ConnectionSlot held = std::move(slot);
  Ctx c{shared, *shared->config, proxy::describe_peer(socket, admin ? "admin" : tls ? "https" : "http"), tls,
        admin, 0, {}, {}, {}, 0, {}, {}, {}, {}};
  c.peer_trusted = !c.cfg.http.trusted_proxies.empty() &&
                   route::ip_allowed(c.info.client_ip, c.cfg.http.trusted_proxies);
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  try {
    if (tls) {
      if (!shared->server_tls) {
        co_return;
      }
      Tls stream(std::move(socket), *shared->server_tls);
      bool handshake_ok = false;
      {
        Timed deadline(stream, c.cfg.http.client_timeout);
        auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, net::use_nothrow);
        handshake_ok = !ec && !deadline.expired();
      }
      if (!handshake_ok) {
        c.info.outcome = "tls-failed";
      } else {
        co_await serve(c, stream);
        Timed deadline(stream, std::chrono::seconds(5));
        co_await stream.async_shutdown(net::use_nothrow);
      }
    } else {
      co_await serve(c, socket);
      socket.shutdown(tcp::socket::shutdown_send, ignored);
    }
  } catch (const std::exception& e) {
    c.info.outcome = "error";
    ZMPROXY_LOG(error, "http", "{}: session failed: {}", c.info.client_ip, e.what());
  }
}

}  // namespace zmproxy::proxy::http

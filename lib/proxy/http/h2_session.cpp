#include "lib/proxy/http/h2_session.hpp"

#include "lib/log/logger.hpp"
#include "lib/net/deadline.hpp"
#include "lib/proxy/http/access_line.hpp"
#include "lib/proxy/http/client_connection.hpp"
#include "lib/proxy/http/h2_connection.hpp"
#include "lib/proxy/http/h2_translate.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace zmproxy::proxy::http {

namespace asio = net::asio;
using asio::awaitable;
using boost::system::error_code;

namespace {

// Unframed answer bytes one stream may have before its writes wait.
constexpr std::size_t k_stream_output = 64 * 1024;
// What one write_some takes at most (the session writes 64 KiB pieces).
constexpr std::size_t k_write_take = 256 * 1024;
constexpr std::size_t k_read_size = 16 * 1024;

// One coroutine's wake-up: notify() before wait() is not lost.
class Wakeup {
 public:
  explicit Wakeup(const asio::any_io_executor& ex) : m_timer(ex) {}
  awaitable<void> wait() {
    if (!m_pending) {
      m_timer.expires_at(asio::steady_timer::time_point::max());
      co_await m_timer.async_wait(net::use_nothrow);
    }
    m_pending = false;
  }
  void notify() {
    m_pending = true;
    m_timer.cancel();
  }

 private:
  asio::steady_timer m_timer;
  bool m_pending = false;
};

}  // namespace

class H2Driver;

namespace {

// Boost 1.81's any_completion_handler move assignment copies from an lvalue
// through its converting constructor, which recurses without end: moved by
// construction and swap instead.
void park(H2IoHandler& slot, H2IoHandler&& handler) {
  H2IoHandler moved(std::move(handler));
  moved.swap(slot);
}

}  // namespace

struct H2StreamState {
  H2StreamState(H2Driver& d, std::int32_t stream, bool head_request)
      : driver(d), id(stream), relay(head_request) {}
  H2Driver& driver;
  std::int32_t id;
  // The request as HTTP/1.1 bytes not yet read by the session.
  std::string in;
  std::size_t in_off = 0;
  std::size_t body_window = 0;  // DATA bytes in `in`: their window reopens once read
  bool chunked = false;         // DATA goes in as chunks
  bool in_end = false;          // the request is whole in `in`
  bool gone = false;            // reset, closed, or the connection ended
  H2IoHandler read_handler;
  asio::mutable_buffer read_buffer;
  H2IoHandler write_handler;
  std::array<asio::const_buffer, H2Stream::k_max_write_buffers> write_buffers;
  std::size_t write_count = 0;
  H2ResponseRelay relay;
};

// The connection: its reader (run), its writer and its streams.
class H2Driver final : public H2Handler {
 public:
  H2Driver(ClientConnection& c,
           net::TlsStream& client,
           H2StreamServer serve,
           const H2Limits& limits)
      : m_c(c),
        m_client(client),
        m_serve(std::move(serve)),
        m_ex(client.get_executor()),
        m_limits(limits),
        m_h2(*this, limits),
        m_writer_wake(m_ex),
        m_done_wake(m_ex) {}

  awaitable<void> run();

  // H2Stream's operations.
  void read(H2StreamState& st, asio::mutable_buffer buffer, H2IoHandler handler);
  void write(H2StreamState& st, std::span<const asio::const_buffer> buffers, H2IoHandler handler);
  void fail_ops(H2StreamState& st, error_code ec);

  // H2Handler.
  void on_request_head(const H2RequestHead& head) override;
  void on_request_data(std::int32_t stream, std::string_view data) override;
  void on_request_end(std::int32_t stream) override;
  void on_stream_reset(std::int32_t stream, std::uint32_t error_code) override;
  void on_stream_closed(std::int32_t stream) override;
  void on_header_too_large(const H2RequestHead& head) override;

 private:
  H2StreamState* find(std::int32_t id) {
    auto it = m_streams.find(id);
    return it == m_streams.end() ? nullptr : it->second.get();
  }
  void complete(H2IoHandler& h, error_code ec, std::size_t n) {
    asio::post(m_ex, asio::append(std::move(h), ec, n));
  }
  bool admissible(const H2StreamState& st) {
    return m_h2.body_buffered(st.id) < k_stream_output &&
           m_h2.output_buffered() < m_limits.max_output_buffered / 2;
  }
  std::size_t take(H2StreamState& st, std::span<const asio::const_buffer> buffers);
  void admit_parked();
  void end_connection();
  awaitable<void> run_writer();
  awaitable<void> run_stream(H2StreamState& st);

  // The stream's own connection record (its access-log line, its status).
  std::unique_ptr<ClientConnection> stream_connection() const {
    auto sc = std::unique_ptr<ClientConnection>(new ClientConnection{m_c.shared,
                                                                     m_c.cfg,
                                                                     m_c.info,
                                                                     true,
                                                                     m_c.admin,
                                                                     0,
                                                                     {},
                                                                     {},
                                                                     {},
                                                                     0,
                                                                     {},
                                                                     {},
                                                                     {},
                                                                     {},
                                                                     m_c.peer_trusted,
                                                                     m_c.counters,
                                                                     {},
                                                                     {},
                                                                     false,
                                                                     m_c.cert,
                                                                     true});
    sc->info.started = std::chrono::steady_clock::now();
    sc->info.bytes_in = sc->info.bytes_out = 0;
    sc->info.outcome = "closed";
    return sc;
  }

  // A coroutine of this connection is counted from its co_spawn (spawn)
  // until it ends (Live, in its frame): run() must not return while one is
  // queued to start, as it would then start on a destroyed driver.
  void spawn(awaitable<void> coroutine) {
    ++m_live;
    asio::co_spawn(m_ex, std::move(coroutine), asio::detached);
  }
  struct Live {
    explicit Live(H2Driver& d) : driver(d) {}
    ~Live() {
      --driver.m_live;
      driver.m_done_wake.notify();
    }
    H2Driver& driver;
  };

  ClientConnection& m_c;
  net::TlsStream& m_client;
  H2StreamServer m_serve;
  asio::any_io_executor m_ex;
  H2Limits m_limits;
  H2Connection m_h2;
  std::map<std::int32_t, std::unique_ptr<H2StreamState>> m_streams;  // whose coroutine runs
  std::size_t m_parked_writes = 0;
  Wakeup m_writer_wake;
  Wakeup m_done_wake;
  std::size_t m_live = 0;
  bool m_closing = false;
  bool m_goaway_sent = false;  // for a retired generation
};

void H2Driver::read(H2StreamState& st, asio::mutable_buffer buffer, H2IoHandler handler) {
  if (buffer.size() == 0) {
    complete(handler, {}, 0);  // as a socket's read_some of nothing
  } else if (st.in_off < st.in.size()) {
    const std::size_t n = std::min(buffer.size(), st.in.size() - st.in_off);
    std::memcpy(buffer.data(), st.in.data() + st.in_off, n);
    st.in_off += n;
    if (st.in_off == st.in.size()) {
      st.in.clear();
      st.in_off = 0;
      if (st.body_window > 0 && !st.gone) {
        m_h2.consume_body(st.id, st.body_window);
        m_writer_wake.notify();  // the WINDOW_UPDATE
      }
      st.body_window = 0;
    }
    complete(handler, {}, n);
  } else if (st.in_end && st.in_off == st.in.size()) {
    complete(handler, asio::error::eof, 0);
  } else if (st.gone || m_closing) {
    complete(handler, asio::error::connection_reset, 0);
  } else {
    park(st.read_handler, std::move(handler));
    st.read_buffer = buffer;
  }
}

std::size_t H2Driver::take(H2StreamState& st, std::span<const asio::const_buffer> buffers) {
  std::size_t n = 0;
  for (const asio::const_buffer& b : buffers) {
    const std::size_t part = std::min(b.size(), k_write_take - n);
    if (!st.relay.feed(m_h2, st.id, std::string_view(static_cast<const char*>(b.data()), part))) {
      ZMPROXY_LOG(warn, "http",
                  "{}: HTTP/2 stream {}: the answer could not be framed; stream reset",
                  m_c.info.client_ip, st.id);
      st.gone = true;
      m_h2.reset(st.id, kH2InternalError);
      return 0;
    }
    n += part;
    if (n == k_write_take) {
      break;
    }
  }
  m_writer_wake.notify();
  return n;
}

void H2Driver::write(H2StreamState& st,
                     std::span<const asio::const_buffer> buffers,
                     H2IoHandler handler) {
  if (st.gone || m_closing) {
    complete(handler, asio::error::connection_reset, 0);
    return;
  }
  if (!admissible(st)) {
    park(st.write_handler, std::move(handler));
    st.write_count = buffers.size();
    std::copy(buffers.begin(), buffers.end(), st.write_buffers.begin());
    ++m_parked_writes;
    return;
  }
  const std::size_t n = take(st, buffers);
  complete(handler, st.gone ? error_code(asio::error::connection_reset) : error_code(), n);
}

// Writes that waited for room, now that frames went out.
void H2Driver::admit_parked() {
  if (m_parked_writes == 0) {
    return;
  }
  for (auto& [id, st] : m_streams) {
    if (st->write_handler && admissible(*st)) {
      --m_parked_writes;
      H2IoHandler h = std::move(st->write_handler);
      const std::size_t n = take(*st, std::span(st->write_buffers.data(), st->write_count));
      complete(h, st->gone ? error_code(asio::error::connection_reset) : error_code(), n);
    }
  }
}

void H2Driver::fail_ops(H2StreamState& st, error_code ec) {
  if (st.read_handler) {
    complete(st.read_handler, ec, 0);
  }
  if (st.write_handler) {
    --m_parked_writes;
    complete(st.write_handler, ec, 0);
  }
}

void H2Driver::on_request_head(const H2RequestHead& head) {
  if (m_closing) {
    m_h2.reset(head.stream, kH2RefusedStream);
    return;
  }
  // Streams the client reset stay served until their mailbox answers (or
  // times out): the coroutines a connection may have are bounded apart
  // from nghttp2's count of open streams. A client past that bound resets
  // streams faster than the mailboxes answer (rapid reset under the
  // per-stream budget): the connection ends, as past the budget.
  if (m_streams.size() >= 2 * static_cast<std::size_t>(m_limits.max_concurrent_streams)) {
    m_h2.goaway(kH2EnhanceYourCalm,
                "HTTP/2 client opened streams while " + std::to_string(m_streams.size()) +
                    " of its streams still wait for their mailbox (rapid reset)");
    return;
  }
  bool chunked = false;
  std::optional<std::string> h1 = h1_request_head(head, chunked);
  if (!h1) {
    m_h2.reset(head.stream, kH2ProtocolError);
    return;
  }
  auto st = std::make_unique<H2StreamState>(*this, head.stream, head.method == "HEAD");
  st->in = std::move(*h1);
  st->chunked = chunked;
  st->in_end = head.end_stream;
  H2StreamState& ref = *st;
  m_streams.emplace(head.stream, std::move(st));
  spawn(run_stream(ref));
}

void H2Driver::on_request_data(std::int32_t stream, std::string_view data) {
  H2StreamState* st = find(stream);
  if (st == nullptr || st->gone || st->in_end) {
    m_h2.consume_body(stream, data.size());  // nobody reads it
    return;
  }
  if (st->chunked) {
    append_chunk(st->in, data);
  } else {
    st->in.append(data);
  }
  st->body_window += data.size();
  if (st->read_handler) {
    H2IoHandler h = std::move(st->read_handler);
    read(*st, st->read_buffer, std::move(h));
  }
}

void H2Driver::on_request_end(std::int32_t stream) {
  H2StreamState* st = find(stream);
  if (st == nullptr || st->in_end) {
    return;
  }
  if (st->chunked) {
    st->in.append(k_last_chunk);
  }
  st->in_end = true;
  if (st->read_handler) {
    H2IoHandler h = std::move(st->read_handler);
    read(*st, st->read_buffer, std::move(h));
  }
}

void H2Driver::on_stream_reset(std::int32_t stream, std::uint32_t) {
  if (H2StreamState* st = find(stream)) {
    st->gone = true;
    fail_ops(*st, asio::error::connection_reset);
  }
}

void H2Driver::on_stream_closed(std::int32_t stream) {
  on_stream_reset(stream, kH2NoError);
}

void H2Driver::on_header_too_large(const H2RequestHead& head) {
  const std::unique_ptr<ClientConnection> sc = stream_connection();
  sc->request_line.assign(head.method).append(" ").append(head.path).append(" HTTP/2.0");
  sc->status = 431;
  sc->info.detail = "header-too-large";
  log_request(*sc, 0, sc->info.started);
}

void H2Driver::end_connection() {
  m_closing = true;
  for (auto& [id, st] : m_streams) {
    st->gone = true;
    fail_ops(*st, asio::error::connection_reset);
  }
  m_writer_wake.notify();
}

awaitable<void> H2Driver::run_stream(H2StreamState& st) {
  const Live live(*this);
  try {
    const std::unique_ptr<ClientConnection> sc = stream_connection();
    H2Stream stream(st, m_ex);
    co_await m_serve(*sc, stream);
  } catch (const std::exception& e) {
    ZMPROXY_LOG(error, "http", "{}: HTTP/2 stream {} failed: {}", m_c.info.client_ip, st.id,
                e.what());
  }
  // An answer cut short must not look whole to the client.
  if (!st.gone && !st.relay.complete()) {
    m_h2.reset(st.id, kH2InternalError);
  }
  if (st.body_window > 0) {
    m_h2.consume_body(st.id, st.body_window);
  }
  if (st.write_handler) {
    --m_parked_writes;
  }
  m_streams.erase(st.id);
  m_writer_wake.notify();
}

awaitable<void> H2Driver::run_writer() {
  const Live live(*this);
  while (true) {
    std::string_view out = m_h2.pending_output();
    admit_parked();
    if (out.empty()) {
      out = m_h2.pending_output();
    }
    if (out.empty()) {
      if (m_closing || m_h2.finished()) {
        break;
      }
      co_await m_writer_wake.wait();
      continue;
    }
    error_code ec;
    std::size_t n = 0;
    {
      // Valid while only this coroutine pulls output (h2_connection.hpp).
      const net::DeadlineScope deadline(m_ex, m_client.next_layer(), m_c.cfg.http.send_timeout);
      auto [wec, wn] = co_await asio::async_write(m_client, asio::buffer(out.data(), out.size()),
                                                  net::use_nothrow);
      ec = deadline.expired() ? error_code(asio::error::timed_out) : wec;
      n = wn;
    }
    m_c.info.bytes_out += n;
    m_h2.consume_output(n);
    if (ec) {
      end_connection();
      break;
    }
  }
  // The reader may be waiting for a frame that will not matter now.
  const bool cut = m_closing;  // not the clean end (finished())
  m_closing = true;
  error_code ignored;
  m_client.next_layer().cancel(ignored);
  if (cut) {
    // The client sees the end now (after the GOAWAY just written), not
    // once the streams still waiting for their mailbox have finished:
    // nothing is read or written on this connection again.
    m_client.next_layer().shutdown(net::tcp::socket::shutdown_both, ignored);
  }
}

awaitable<void> H2Driver::run() {
  spawn(run_writer());
  std::unique_ptr<char[]> buf(new char[k_read_size]);  // uninitialised: written before read
  auto idle_since = net::coarse_now();
  // Not finished(): it pulls output, which only the writer may do while
  // its write holds a view of it.
  while (!m_closing && m_h2.wants_read()) {
    const auto now = net::coarse_now();
    if (!m_streams.empty()) {
      idle_since = now;
    }
    const auto idle_left = std::chrono::duration_cast<std::chrono::milliseconds>(
        idle_since + m_c.cfg.http.client_timeout - now);
    if (m_streams.empty() && idle_left.count() <= 0) {
      m_h2.goaway();  // its keep-alive is over
      m_closing = true;
      break;
    }
    error_code ec;
    std::size_t n = 0;
    {
      // A frame is waited for without end while a stream is open: each
      // stream has its own deadlines.
      std::optional<net::DeadlineScope> deadline;
      if (m_streams.empty()) {
        deadline.emplace(m_ex, m_client.next_layer(), idle_left);
      }
      auto [rec, rn] =
          co_await m_client.async_read_some(asio::buffer(buf.get(), k_read_size), net::use_nothrow);
      ec = rec;
      n = rn;
      if (deadline && deadline->expired()) {
        m_h2.goaway();
        break;
      }
    }
    if (ec) {
      break;
    }
    m_c.info.bytes_in += n;
    if (auto fed = m_h2.feed(std::string_view(buf.get(), n)); !fed) {
      ZMPROXY_LOG(info, "http", "{}: {}", m_c.info.client_ip, fed.error());
      m_c.info.outcome = "h2-error";
      break;
    }
    if (!m_goaway_sent && m_c.shared->retired.load(std::memory_order_relaxed)) {
      // A reload or a stop retired this generation: no new streams here,
      // the open ones finish, the client opens a new connection.
      m_h2.goaway();
      m_goaway_sent = true;
    }
    m_writer_wake.notify();
  }
  if (const std::string_view why = m_h2.close_reason();
      !why.empty() && m_c.info.outcome != "h2-error") {
    ZMPROXY_LOG(info, "http", "{}: {}", m_c.info.client_ip, why);
    m_c.info.outcome = "h2-error";
  }
  end_connection();
  while (m_live > 0) {
    co_await m_done_wake.wait();
  }
}

void H2Stream::start_read(asio::mutable_buffer buffer, H2IoHandler handler) {
  m_state.driver.read(m_state, buffer, std::move(handler));
}

void H2Stream::start_write(std::span<const asio::const_buffer> buffers, H2IoHandler handler) {
  m_state.driver.write(m_state, buffers, std::move(handler));
}

void H2Stream::cancel_for_deadline(void* stream) noexcept {
  H2StreamState& st = static_cast<H2Stream*>(stream)->m_state;
  st.driver.fail_ops(st, asio::error::operation_aborted);
}

awaitable<void> serve_h2(ClientConnection& c, net::TlsStream& client, H2StreamServer serve_stream) {
  H2Limits limits;
  limits.max_header_list_size = static_cast<std::uint32_t>(c.cfg.http.max_header_size);
  H2Driver driver(c, client, std::move(serve_stream), limits);
  co_await driver.run();
}

}  // namespace zmproxy::proxy::http

#pragma once
// One server-side HTTP/2 connection (RFC 9113) over nghttp2, with no I/O of
// its own: the caller feeds the bytes it read (`feed`), writes what
// `pending_output` returns and says how much went out (`consume_output`).
// Requests reach the session layer as events (H2Handler); it answers with
// `submit_response` / `send_body` / `reset`. Only TLS with ALPN "h2": a
// connection that does not start with the client preface (an HTTP/1.1
// request, h2c Upgrade) is a connection error, never upgraded.
//
// Bounds (H2Limits): concurrent streams, header list size, per-stream and
// connection receive windows (request body bytes are only re-opened to the
// client as the session layer calls `consume_body`, so buffered request
// bodies never exceed the connection window), CONTINUATION frames and bytes
// per header block (the 2024 CONTINUATION flood: counted here, as nghttp2
// 1.52 before Debian's deb12u2 does not; the library's own bound, where it
// has one, is set one above ours as a backstop), streams the client resets before their answer is
// complete (rapid reset, CVE-2023-44487), and the output buffered for a
// client that does not read.
//
// Wired by h2_session.hpp.
//
// Thread affinity: one connection, one thread (no locking inside).

#include <tl/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zmproxy::proxy::http {

struct H2Limits {
  // SETTINGS_MAX_CONCURRENT_STREAMS. A stream past it, opened before the
  // client acknowledged our SETTINGS, is refused (RST_STREAM REFUSED_STREAM);
  // after the acknowledgement nghttp2 treats it as a connection error
  // (GOAWAY PROTOCOL_ERROR), as RFC 9113 §5.1.2 allows.
  std::uint32_t max_concurrent_streams = 100;
  // SETTINGS_MAX_HEADER_LIST_SIZE, counted as RFC 9113 §6.5.2 does (name +
  // value + 32 a field); http.max_header_size of HTTP/1.1. A request over it
  // gets a 431 and its stream ends (its headers are not kept past the limit).
  std::uint32_t max_header_list_size = 16 * 1024;
  // SETTINGS_INITIAL_WINDOW_SIZE: request body bytes a stream may have
  // unconsumed (not yet passed on by the session layer).
  std::uint32_t initial_window_size = 64 * 1024;
  // The connection's receive window: unconsumed request body bytes of all
  // streams together.
  std::uint32_t connection_window_size = 1024 * 1024;
  // SETTINGS_MAX_FRAME_SIZE: the protocol's default (and minimum).
  std::uint32_t max_frame_size = 16 * 1024;
  // CONTINUATION frames after one HEADERS frame (nghttp2 ≥ 1.61 allows 8).
  std::uint32_t max_continuation_frames = 8;
  // Compressed bytes of one header block (HEADERS + its CONTINUATIONs):
  // past it the connection ends even when each frame looks harmless.
  std::uint32_t max_header_block_bytes = 64 * 1024;
  // Rapid reset: a stream the client resets before its response is complete
  // counts; more than `rapid_reset_budget` of them among the last
  // `rapid_reset_window` streams opened ends the connection with GOAWAY
  // ENHANCE_YOUR_CALM. Counted per stream, not per second, so it needs no
  // clock and a slow client never hits it.
  std::uint32_t rapid_reset_budget = 100;
  std::uint32_t rapid_reset_window = 1000;
  // Output waiting for the client (frames not yet written plus response body
  // bytes not yet framed): past it `output_overflow()` is true and `feed`
  // fails, so the caller closes a client that does not read.
  std::size_t max_output_buffered = 4 * 1024 * 1024;
};

struct H2Header {
  std::string name;
  std::string value;
};

// A request's head, complete (HEADERS with END_HEADERS received).
struct H2RequestHead {
  std::int32_t stream = 0;
  std::string method;
  std::string scheme;
  std::string authority;
  std::string path;
  // The regular fields in order, names lower case (nghttp2 refuses others);
  // cookie crumbs joined into the first cookie field with "; ". An empty
  // authority means the client sent no :authority (it may have sent Host).
  std::vector<H2Header> headers;
  bool end_stream = false;  // no body follows (on_request_end follows too)
};

// The session layer's side. Called from inside feed() (and from
// pending_output() for on_stream_closed); the views are valid for the call.
class H2Handler {
 public:
  virtual ~H2Handler() = default;
  virtual void on_request_head(const H2RequestHead& head) = 0;
  // Body bytes: they hold window until consume_body(stream, n).
  virtual void on_request_data(std::int32_t stream, std::string_view data) = 0;
  virtual void on_request_end(std::int32_t stream) = 0;
  // The client sent RST_STREAM (error_code as received).
  virtual void on_stream_reset(std::int32_t stream, std::uint32_t error_code) = 0;
  // The stream is gone (answered, reset either way, or the connection ended).
  virtual void on_stream_closed(std::int32_t stream) = 0;
  // A request whose header list was over the limit, answered 431 here: its
  // method and path (when they came before the limit), for the access log.
  virtual void on_header_too_large(const H2RequestHead&) {}
};

// Error codes (RFC 9113 §7) the caller may need.
inline constexpr std::uint32_t kH2NoError = 0x0;
inline constexpr std::uint32_t kH2ProtocolError = 0x1;
inline constexpr std::uint32_t kH2InternalError = 0x2;
inline constexpr std::uint32_t kH2RefusedStream = 0x7;
inline constexpr std::uint32_t kH2Cancel = 0x8;
inline constexpr std::uint32_t kH2EnhanceYourCalm = 0xb;

class H2Connection {
 public:
  // Queues our SETTINGS (the server preface) at once.
  explicit H2Connection(H2Handler& handler, const H2Limits& limits = {});
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Bytes from the client. An error is a connection error: its text is one
  // line for the log; a GOAWAY may be waiting in pending_output() — write it,
  // then close. Protocol errors nghttp2 handles itself (a GOAWAY it queued)
  // return success: write pending_output() and close once finished().
  tl::expected<void, std::string> feed(std::string_view bytes);

  // What to write to the client next (empty: nothing now). Valid until the
  // next pending_output or consume_output (nothing else touches it).
  std::string_view pending_output();
  void consume_output(std::size_t n);

  // Reopen `n` body bytes of `stream` (and of the connection) to the client.
  void consume_body(std::int32_t stream, std::size_t n);

  // The response head. With end_stream the stream has no body; else the body
  // follows through send_body. Names are sent lower case; fields HTTP/2
  // forbids (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding,
  // Upgrade) are left out. False when the stream is gone or answered.
  bool submit_response(std::int32_t stream,
                       int status,
                       std::span<const H2Header> headers,
                       bool end_stream);
  // Response body bytes, copied; framed as the client's windows allow. The
  // caller bounds its reads with body_buffered(). False when the stream is
  // gone or its body already ended.
  bool send_body(std::int32_t stream, std::string_view data, bool end);
  std::size_t body_buffered(std::int32_t stream) const;

  void reset(std::int32_t stream, std::uint32_t error_code);
  // GOAWAY: no new streams; those open finish. With an error code other than
  // NO_ERROR the connection ends once the GOAWAY is written.
  // `reason`: close_reason()'s text (one line for the log) for an error.
  void goaway(std::uint32_t error_code = kH2NoError, std::string reason = {});

  // Output buffered past H2Limits::max_output_buffered.
  bool output_overflow() const;
  // Output waiting: frames not yet written plus answer bytes not yet framed.
  std::size_t output_buffered() const;
  // Neither side wants anything more and nothing is left to write: close.
  // Pulls output (pending_output): only for the one who writes.
  bool finished();
  // The client may still send something that matters (no GOAWAY either
  // way ended the connection). Touches no output.
  bool wants_read() const;
  // Why the connection ends, one line for the log ("" for none or a clean
  // end): what feed() returned, or the reason of the GOAWAY nghttp2 sent
  // itself for a protocol error (known once pending_output() framed it).
  std::string_view close_reason() const;
  std::size_t open_streams() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace zmproxy::proxy::http

#pragma once
// How the web session reads and writes HTTP/1.1 messages: the deadline of one
// operation, the proxy's own answers (error pages, redirects), message
// headers serialised by hand, hop-by-hop fields, and a message body relayed
// as the parser yields it (re-framed in chunks when needed, paced when
// asked). Templates over the client and upstream stream types; included by
// session.cpp only, so Beast is compiled in one translation unit.
//
// Thread affinity: the connection's worker.

#include "lib/core/strings.hpp"
#include "lib/net/asio.hpp"
#include "lib/net/deadline.hpp"
#include "lib/net/stream_io.hpp"
#include "lib/proxy/http/body_pace.hpp"
#include "lib/proxy/http/client_connection.hpp"
#include "lib/proxy/http/error_page.hpp"
#include "lib/proxy/http/h2_session.hpp"
#include "lib/proxy/http/header_arena.hpp"
#include "lib/proxy/http/plain_io.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zmproxy::proxy::http {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

// Raw sockets: deadlines come from the worker's DeadlineSweeper, not from a
// timer per operation (beast::tcp_stream arms one for every read and write).
using PlainStream = net::tcp::socket;
using TlsStream = net::TlsStream;  // OpenSSL on the socket: no per-connection engine buffers

using FieldsAllocator = HeaderArenaAllocator<char>;
using RequestParser = bhttp::request_parser<bhttp::buffer_body, FieldsAllocator>;
using ResponseParser = bhttp::response_parser<bhttp::buffer_body, FieldsAllocator>;

// The deadline of one operation on a stream: while it is alive, the socket
// under the stream is cancelled once `timeout` has passed.
class Timed : public net::DeadlineScope {
 public:
  template <class Stream>
  Timed(Stream& s, std::chrono::milliseconds timeout)
      : net::DeadlineScope(net::lowest(s).get_executor(), net::lowest(s), timeout) {}
  // An HTTP/2 stream: its pending read and write fail.
  Timed(H2Stream& s, std::chrono::milliseconds timeout)
      : net::DeadlineScope(s.get_executor(), &s, &H2Stream::cancel_for_deadline, timeout) {}
  // The operation's error, or timeout when the deadline cut it.
  beast::error_code result(beast::error_code ec) const {
    return expired() ? beast::error_code(beast::error::timeout) : ec;
  }
};

inline std::string page(int status, std::string_view title, std::string_view text) {
  return "<!DOCTYPE html><html><head><title>" + std::to_string(status) + " " + std::string(title) +
         "</title></head><body><h1>" + std::string(title) + "</h1><p>" + std::string(text) +
         "</p></body></html>\n";
}

// http.response_headers ("Name: value" lines, checked when read) set on a
// response.
template <class Fields>
void set_configured_fields(bhttp::response_header<Fields>& res, const config::HttpSection& h) {
  for (const std::string& line : h.response_headers) {
    const auto colon = line.find(':');
    res.set(std::string(core::trim(std::string_view(line).substr(0, colon))),
            std::string(core::trim(std::string_view(line).substr(colon + 1))));
  }
}

// The proxy's own answer: a small HTML page with `text`, the configured
// response fields and `extra`. Whether the connection stays open.
// The parameters are views, so a call inside `co_await` builds no temporary
// with a destructor: GCC 12 destroys some of those twice (session_driver.hpp;
// tests/unit/net/coroutine_temporaries_test.cpp). The caller's text and
// fields outlive the call: it is awaited where it is made.
template <class Stream>
asio::awaitable<bool> send_simple(ClientConnection& c, Stream& client, unsigned version, bhttp::status status,
                                       std::string_view text, bool keep_alive,
                                       std::span<const std::pair<std::string, std::string>> extra) {
  bhttp::response<bhttp::string_body> res{status, version};
  res.set(bhttp::field::content_type, "text/html; charset=utf-8");
  for (const auto& [k, v] : extra) {
    res.set(k, v);
  }
  set_configured_fields(res.base(), c.cfg.http);
  res.body() = page(static_cast<int>(status), std::string(bhttp::obsolete_reason(status)), text);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  c.status = static_cast<int>(status);
  Timed deadline(client, c.cfg.http.send_timeout);
  auto [ec, n] = co_await bhttp::async_write(client, res, net::use_nothrow);
  c.info.bytes_out += n;
  co_return !ec && !deadline.expired() && keep_alive;
}

// The proxy's own 502 or 504 when a mailbox web server failed (Zimbra's
// error_page, error_page.hpp): a 302 to http.error_handler_url with err and
// up (c.tried), else the built-in page. Both carry the configured fields;
// the connection closes.
template <class Stream>
asio::awaitable<bool> send_upstream_error(ClientConnection& c, Stream& client, unsigned version,
                                          bhttp::status status) {
  const int code = static_cast<int>(status);
  if (c.cfg.http.error_handler_url.empty()) {
    co_return co_await send_simple(c, client, version, status, upstream_error_text(code), false, {});
  }
  const std::array<std::pair<std::string, std::string>, 1> location{
      {{"Location", error_handler_location(c.cfg.http.error_handler_url, code, c.tried)}}};
  co_return co_await send_simple(c, client, version, bhttp::status::found, "Moved.", false, location);
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

inline constexpr auto k_keep_all = [](std::string_view) { return false; };

// HTTP2-Settings goes with `Upgrade: h2c`, which is never passed on.
// (The names' lengths are known when compiled: a braced list of string
// views measured each one with strlen on every field of every message.)
inline bool is_hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 9> k_names{
      "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
      "te",         "trailer",    "upgrade",          "http2-settings"};
  for (std::string_view h : k_names) {
    if (core::iequals(name, h)) {
      return true;
    }
  }
  return false;
}

template <class Fields>
void erase_hop_by_hop(Fields& fields) {
  for (auto it = fields.begin(); it != fields.end();) {
    it = is_hop_by_hop(it->name_string()) ? fields.erase(it) : std::next(it);
  }
}

// What a plain upstream socket reads at once: a small answer, header and
// body, in one recv. The connection's buffer keeps this capacity.
inline constexpr std::size_t k_upstream_read_room = 16 * 1024;

// A message header into `parser` from what `buf` holds and recv calls on
// a plain socket made at once (a wait only after EAGAIN; the one deadline
// covers every wait), with the errors Beast's async_read_header gives;
// `header_bytes` counts what the parser took. With
// `mark_short`, a recv shorter than its room marks the socket drained
// (lib/net/edge_flag.hpp: only for a socket whose next reader reads first).
template <class Parser>
asio::awaitable<beast::error_code> read_header_now(net::tcp::socket& up, beast::flat_buffer& ubuf, Parser& resp,
                                                   std::optional<Timed>& deadline,
                                                   std::chrono::milliseconds read_timeout, std::size_t room,
                                                   bool mark_short, std::size_t& header_bytes) {
  bool waited = false;
  while (true) {
    if (ubuf.size() > 0) {
      beast::error_code ec;
      const std::size_t used = resp.put(ubuf.data(), ec);
      ubuf.consume(used);
      header_bytes += used;
      if (resp.is_header_done()) {
        co_return beast::error_code{};
      }
      if (ec && ec != bhttp::error::need_more) {
        co_return ec;
      }
    }
    // A socket marked drained with no event since has nothing to read:
    // straight to the wait, no recv to find that out (nginx's ready flag).
    // A FIN that came unseen with the last answer's end is followed by the
    // peer's reset of what was just sent, an event of its own.
    // (A completed wait clears the flag itself: after one, read.)
    const RecvNow r = mark_short && !waited && ubuf.size() == 0 && !net::read_ready_since_drained(up)
                          ? RecvNow{0, {}, true, false}
                          : recv_now(up, ubuf, room);
    if (r.would_block) {
      if (!deadline) {
        deadline.emplace(up, read_timeout);
      }
      auto [wec] = co_await net::async_wait_readable(up, net::use_nothrow);
      waited = true;
      if (deadline->expired()) {
        co_return beast::error_code(beast::error::timeout);
      }
      if (wec) {
        co_return wec;
      }
      continue;
    }
    if (mark_short && r.drained) {
      // Now, before any scheduler pass: what arrives later sets it again.
      net::mark_read_drained(up);
    }
    if (r.ec == asio::error::eof) {
      // As Beast: the close in the middle of a header, or before any.
      if (resp.got_some()) {
        beast::error_code ec;
        resp.put_eof(ec);
        co_return ec ? ec : beast::error_code(bhttp::error::partial_message);
      }
      co_return beast::error_code(bhttp::error::end_of_stream);
    }
    if (r.ec) {
      co_return r.ec;
    }
  }
}

struct RelayResult {
  beast::error_code ec;
  bool reading = false;  // the error came from the side read
  bool from_buffer = false;  // the whole body was already read: no read was made for it
};

// All of `pieces` to `out` within `timeout`. A plain socket takes what fits
// at once and the coroutine goes on without suspending; only the rest
// waits. The caller's `pieces` outlive the call (it is awaited where made).
template <class Out, class Buffers>
asio::awaitable<beast::error_code> write_pieces(Out& out, const Buffers& pieces, std::chrono::milliseconds timeout,
                                                std::uint64_t& written) {
  std::size_t done = 0;
  if constexpr (k_plain_socket<Out>) {
    beast::error_code ec;
    done = send_now(out, pieces, ec);
    written += done;
    if (ec) {
      co_return ec;
    }
    if (done == asio::buffer_size(pieces)) {
      co_return beast::error_code{};
    }
  }
  beast::buffers_suffix<Buffers> rest(pieces);
  rest.consume(done);
  Timed deadline(out, timeout);
  auto [ec, n] = co_await asio::async_write(out, rest, net::use_nothrow);
  written += n;
  co_return deadline.result(ec);
}

// Send `head` (may be empty), then the message body as the parser yields
// it: unchanged, or re-framed in chunks when `chunked` (the parser took the
// incoming framing off; trailers are not passed on). The head leaves with
// the first piece of the body, in one write. With a `pace`, a body slower
// than it is cut (timeout, reading).
template <class In, class Out, bool isRequest, class Allocator>
asio::awaitable<RelayResult> relay_body(In& in, beast::flat_buffer& inbuf,
                                             bhttp::parser<isRequest, bhttp::buffer_body, Allocator>& p, Out& out,
                                             std::string_view head, bool chunked,
                                             std::chrono::milliseconds read_timeout,
                                             std::chrono::milliseconds write_timeout, std::uint64_t& read_bytes,
                                             std::uint64_t& written_bytes, const BodyPace* pace = nullptr) {
  constexpr std::size_t k_chunk = 64 * 1024;
  const auto remaining = p.is_done() ? boost::optional<std::uint64_t>(0) : p.content_length_remaining();
  // A body of known length that is already in `inbuf` (a small answer
  // comes with its header) leaves with the head in one write, straight from
  // the buffer: no body buffer, no read.
  if (!chunked && remaining && *remaining <= inbuf.size()) {
    const auto length = static_cast<std::size_t>(*remaining);
    const std::array<asio::const_buffer, 2> pieces{asio::buffer(head.data(), head.size()),
                                                   asio::buffer(inbuf.data().data(), length)};
    const beast::error_code wec = co_await write_pieces(out, pieces, write_timeout, written_bytes);
    if (wec) {
      co_return RelayResult{wec, false};
    }
    read_bytes += length;
    inbuf.consume(length);
    co_return RelayResult{{}, false, true};
  }
  if constexpr (k_plain_socket<In>) {
    // Beast's reads below wait without trying first when the socket is
    // marked drained, which a FIN that came with the last bytes would not undo.
    net::mark_read_unknown(in);
  }
  // A known short body gets a buffer of its size (a 1 KiB answer does not
  // allocate and free 64 KiB); others are copied 64 KiB at a time.
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
      if (const beast::error_code wec = co_await write_pieces(out, pieces, write_timeout, written_bytes)) {
        co_return RelayResult{wec, false};
      }
    }
    if (last) {
      co_return RelayResult{};
    }
  }
}

}  // namespace zmproxy::proxy::http

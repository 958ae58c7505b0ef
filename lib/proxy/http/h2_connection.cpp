#include "lib/proxy/http/h2_connection.hpp"

#include <algorithm>
#include <cstring>
#include <nghttp2/nghttp2.h>
#include <string>
#include <unordered_map>

namespace zmproxy::proxy::http {

namespace {

constexpr std::size_t kOutputChunk = 64 * 1024;  // frames pulled from nghttp2 at a time
constexpr std::size_t kFieldOverhead = 32;       // RFC 9113 §6.5.2

struct Stream {
  H2RequestHead head;
  std::size_t header_bytes = 0;
  bool too_large = false;      // header list past the limit: answered 431
  bool head_done = false;      // the request head was delivered (or refused)
  std::size_t unconsumed = 0;  // body bytes delivered, not yet consumed
  std::string body;            // response body bytes not yet framed
  std::size_t body_off = 0;
  bool body_end = false;
  bool has_body = false;       // the response has a body (data provider)
  bool deferred = false;       // the provider said NGHTTP2_ERR_DEFERRED
  bool response_done = false;  // the response ended (END_STREAM framed)
  std::uint64_t ordinal = 0;   // which stream opened this was, from 0
  std::size_t cookie_field = static_cast<std::size_t>(-1);  // index in head.headers
};

constexpr std::size_t kNoCookie = static_cast<std::size_t>(-1);

bool iequals(std::string_view a, std::string_view b) {
  const auto lower = [](char ch) { return ch >= 'A' && ch <= 'Z' ? char(ch + ('a' - 'A')) : ch; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

// Fields HTTP/2 forbids in a message (RFC 9113 §8.2.2); an HTTP/1.1
// upstream's answer may carry them.
bool connection_specific(std::string_view name) {
  return iequals(name, "connection") || iequals(name, "keep-alive") ||
         iequals(name, "proxy-connection") || iequals(name, "transfer-encoding") ||
         iequals(name, "upgrade");
}

}  // namespace

struct H2Connection::Impl {
  H2Handler& handler;
  H2Limits limits;
  nghttp2_session* session = nullptr;
  std::unordered_map<std::int32_t, Stream> streams;
  std::string out;
  std::size_t out_off = 0;
  std::size_t body_total = 0;  // sum of the streams' unframed body bytes
  // The header block being received.
  std::uint32_t continuations = 0;
  std::size_t block_bytes = 0;
  // Rapid reset: which of the last `rapid_reset_window` streams opened were
  // reset early by the client.
  std::vector<std::uint8_t> early_reset;
  std::uint32_t early_resets = 0;
  std::uint64_t opened = 0;
  // A connection error decided in a callback.
  std::uint32_t fatal_code = 0;
  std::string fatal_reason;

  Impl(H2Handler& h, const H2Limits& l) : handler(h), limits(l) {}

  int fail(std::uint32_t code, std::string reason) {
    if (fatal_reason.empty()) {
      fatal_code = code;
      fatal_reason = std::move(reason);
    }
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }

  Stream* find(std::int32_t id) {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : &it->second;
  }

  std::size_t buffered() const { return out.size() - out_off + body_total; }

  void stream_opened(Stream& s) {
    const std::uint32_t window = std::max<std::uint32_t>(limits.rapid_reset_window, 1);
    if (early_reset.size() != window) {
      early_reset.assign(window, 0);
    }
    s.ordinal = opened++;
    std::uint8_t& slot = early_reset[s.ordinal % window];
    if (slot != 0) {
      --early_resets;
      slot = 0;
    }
  }

  // The client reset a stream before its answer was complete.
  bool count_early_reset(const Stream& s) {
    const std::uint32_t window = static_cast<std::uint32_t>(early_reset.size());
    if (window == 0 || opened - s.ordinal > window) {
      return false;
    }
    std::uint8_t& slot = early_reset[s.ordinal % window];
    if (slot == 0) {
      slot = 1;
      ++early_resets;
    }
    return early_resets > limits.rapid_reset_budget;
  }

  void answer_431(std::int32_t id) {
    const nghttp2_nv nv[] = {
        {const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(":status")),
         const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>("431")), 7, 3, NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_submit_response(session, id, nv, 1, nullptr);
    if (Stream* s = find(id)) {
      s->response_done = true;
    }
  }

  void drop_stream(std::int32_t id) {
    auto it = streams.find(id);
    if (it == streams.end()) {
      return;
    }
    if (it->second.unconsumed > 0) {
      nghttp2_session_consume_connection(session, it->second.unconsumed);
    }
    body_total -= it->second.body.size() - it->second.body_off;
    streams.erase(it);
    handler.on_stream_closed(id);
  }
};

namespace {

using Impl = H2Connection::Impl;

Impl& self(void* user) {
  return *static_cast<Impl*>(user);
}

int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user) {
  Impl& c = self(user);
  if (hd->type == NGHTTP2_HEADERS) {
    c.continuations = 0;
    c.block_bytes = hd->length;
  } else if (hd->type == NGHTTP2_CONTINUATION) {
    ++c.continuations;
    c.block_bytes += hd->length;
    if (c.continuations > c.limits.max_continuation_frames) {
      return c.fail(kH2EnhanceYourCalm, "HTTP/2 client sent more than " +
                                            std::to_string(c.limits.max_continuation_frames) +
                                            " CONTINUATION frames in one header block");
    }
  } else {
    return 0;
  }
  if (c.block_bytes > c.limits.max_header_block_bytes) {
    return c.fail(kH2EnhanceYourCalm, "HTTP/2 client sent a header block over " +
                                          std::to_string(c.limits.max_header_block_bytes) +
                                          " bytes");
  }
  return 0;
}

int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  Impl& c = self(user);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;  // trailers: their fields are counted, not kept
  }
  auto [it, fresh] = c.streams.try_emplace(frame->hd.stream_id);
  it->second.head.stream = frame->hd.stream_id;
  if (fresh) {
    c.stream_opened(it->second);
  }
  return 0;
}

int on_header(nghttp2_session*,
              const nghttp2_frame* frame,
              const uint8_t* name,
              size_t namelen,
              const uint8_t* value,
              size_t valuelen,
              uint8_t,
              void* user) {
  Impl& c = self(user);
  Stream* s = c.find(frame->hd.stream_id);
  if (s == nullptr || s->too_large) {
    return 0;
  }
  s->header_bytes += namelen + valuelen + kFieldOverhead;
  if (s->header_bytes > c.limits.max_header_list_size) {
    s->too_large = true;
    s->head.headers.clear();
    s->head.headers.shrink_to_fit();
    return 0;
  }
  if (s->head_done) {
    return 0;  // a trailer field: within the limit, dropped
  }
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":method") {
    s->head.method = v;
  } else if (n == ":scheme") {
    s->head.scheme = v;
  } else if (n == ":authority") {
    s->head.authority = v;
  } else if (n == ":path") {
    s->head.path = v;
  } else if (n == "cookie" && s->cookie_field != kNoCookie) {
    // RFC 9113 §8.2.3: crumbs sent as separate fields are one field again.
    std::string& joined = s->head.headers[s->cookie_field].value;
    joined.append("; ").append(v);
  } else if (!n.empty() && n[0] != ':') {
    if (n == "cookie") {
      s->cookie_field = s->head.headers.size();
    }
    s->head.headers.push_back({std::string(n), std::string(v)});
  }
  return 0;
}

int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  Impl& c = self(user);
  const std::int32_t id = frame->hd.stream_id;
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      Stream* s = c.find(id);
      if (s == nullptr) {
        return 0;
      }
      if (!s->head_done) {
        s->head_done = true;
        if (s->too_large) {
          c.answer_431(id);
          c.handler.on_header_too_large(s->head);
          return 0;
        }
        s->head.end_stream = end_stream;
        c.handler.on_request_head(s->head);
        s = c.find(id);  // the handler may have reset it
        if (s != nullptr) {
          s->head.headers.clear();
          s->head.headers.shrink_to_fit();
        }
      }
      if (end_stream && s != nullptr && !s->too_large) {
        c.handler.on_request_end(id);
      }
      return 0;
    }
    case NGHTTP2_DATA:
      if (end_stream) {
        Stream* s = c.find(id);
        if (s != nullptr && !s->too_large) {
          c.handler.on_request_end(id);
        }
      }
      return 0;
    case NGHTTP2_RST_STREAM: {
      Stream* s = c.find(id);
      if (s == nullptr) {
        return 0;
      }
      const bool over = !s->response_done && c.count_early_reset(*s);
      c.handler.on_stream_reset(id, frame->rst_stream.error_code);
      if (over) {
        return c.fail(kH2EnhanceYourCalm, "HTTP/2 client reset more than " +
                                              std::to_string(c.limits.rapid_reset_budget) +
                                              " of its last " +
                                              std::to_string(c.limits.rapid_reset_window) +
                                              " streams before their answer (rapid reset)");
      }
      return 0;
    }
    default:
      return 0;
  }
}

int on_data_chunk(
    nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
  Impl& c = self(user);
  Stream* s = c.find(id);
  if (s == nullptr || s->too_large) {
    nghttp2_session_consume(session, id, len);  // nobody reads it: reopen at once
    return 0;
  }
  s->unconsumed += len;
  c.handler.on_request_data(id, std::string_view(reinterpret_cast<const char*>(data), len));
  return 0;
}

// A GOAWAY with an error that nghttp2 decided itself (a malformed frame, a
// flow-control violation): its debug data is nghttp2's reason.
int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  Impl& c = self(user);
  if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != kH2NoError &&
      c.fatal_reason.empty()) {
    c.fatal_code = frame->goaway.error_code;
    c.fatal_reason = "HTTP/2 connection error (" +
                     std::string(nghttp2_http2_strerror(frame->goaway.error_code)) + "): " +
                     std::string(reinterpret_cast<const char*>(frame->goaway.opaque_data),
                                 frame->goaway.opaque_data_len);
  }
  return 0;
}

int on_stream_close(nghttp2_session*, int32_t id, uint32_t, void* user) {
  self(user).drop_stream(id);
  return 0;
}

ssize_t read_body(nghttp2_session*,
                  int32_t id,
                  uint8_t* buf,
                  size_t length,
                  uint32_t* flags,
                  nghttp2_data_source*,
                  void* user) {
  Impl& c = self(user);
  Stream* s = c.find(id);
  if (s == nullptr) {
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  const std::size_t avail = s->body.size() - s->body_off;
  if (avail == 0 && !s->body_end) {
    s->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  const std::size_t n = std::min(avail, length);
  std::memcpy(buf, s->body.data() + s->body_off, n);
  s->body_off += n;
  c.body_total -= n;
  if (s->body_off == s->body.size()) {
    s->body.clear();
    s->body_off = 0;
  } else if (s->body_off >= kOutputChunk && s->body_off * 2 >= s->body.size()) {
    s->body.erase(0, s->body_off);
    s->body_off = 0;
  }
  if (s->body_end && s->body.empty()) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    s->response_done = true;
  }
  return static_cast<ssize_t>(n);
}

// NGHTTP2_ERR_TOO_MANY_CONTINUATIONS: Debian's nghttp2 1.52.0-1+deb12u2 and
// later (and upstream 1.61) stop a CONTINUATION flood themselves; named by
// value so the older header still compiles.
constexpr ssize_t kTooManyContinuations = -905;

std::string library_error(ssize_t rv) {
  switch (rv) {
    case kTooManyContinuations:
      return "HTTP/2 client sent too many CONTINUATION frames in one header block (nghttp2's "
             "bound)";
    case NGHTTP2_ERR_BAD_CLIENT_MAGIC:
      return "not an HTTP/2 client preface (only h2 by ALPN; h2c and Upgrade are not supported)";
    case NGHTTP2_ERR_FLOODED:
      return "HTTP/2 client flooded control frames (PING/SETTINGS) without reading the answers";
    default:
      return std::string("HTTP/2 connection error: ") + nghttp2_strerror(static_cast<int>(rv));
  }
}

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  return {const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data())),
          const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data())), name.size(),
          value.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

H2Connection::H2Connection(H2Handler& handler, const H2Limits& limits)
    : impl_(std::make_unique<Impl>(handler, limits)) {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_option* opt = nullptr;
  if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0) {
    throw std::bad_alloc();
  }
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  // Windows reopen only as the session layer consumes (consume_body).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  // The library's own CONTINUATION bound (Debian 12's 1.52.0-1+deb12u2 on),
  // one above ours (on_begin_frame) so that ours, which also counts bytes
  // and works with an unpatched library, decides; the library's backs it.
  nghttp2_option_set_max_continuations(opt, limits.max_continuation_frames + 1);
  const int rv = nghttp2_session_server_new2(&impl_->session, cb, impl_.get(), opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) {
    throw std::bad_alloc();
  }
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_list_size},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.initial_window_size},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, limits.max_frame_size},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  nghttp2_submit_settings(impl_->session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(impl_->session, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(limits.connection_window_size));
}

H2Connection::~H2Connection() {
  // nghttp2_session_del calls no stream-close callbacks: the handler is not
  // told about streams of a connection being destroyed.
  nghttp2_session_del(impl_->session);
}

tl::expected<void, std::string> H2Connection::feed(std::string_view bytes) {
  Impl& c = *impl_;
  if (!c.fatal_reason.empty()) {
    return tl::make_unexpected(c.fatal_reason);
  }
  const ssize_t rv = nghttp2_session_mem_recv(
      c.session, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!c.fatal_reason.empty()) {
    nghttp2_session_terminate_session(c.session, c.fatal_code);
    return tl::make_unexpected(c.fatal_reason);
  }
  if (rv < 0) {
    c.fatal_code = rv == kTooManyContinuations ? kH2EnhanceYourCalm : kH2ProtocolError;
    c.fatal_reason = library_error(rv);
    if (rv != NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
      nghttp2_session_terminate_session(c.session, c.fatal_code);
    }
    return tl::make_unexpected(c.fatal_reason);
  }
  if (c.buffered() > c.limits.max_output_buffered) {
    return tl::make_unexpected("HTTP/2 client does not read: over " +
                               std::to_string(c.limits.max_output_buffered) +
                               " bytes of output waiting");
  }
  return {};
}

std::string_view H2Connection::pending_output() {
  Impl& c = *impl_;
  while (c.out.size() - c.out_off < kOutputChunk) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(c.session, &data);
    if (n <= 0) {
      break;  // nothing more now (an error here leaves the session to end)
    }
    c.out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return std::string_view(c.out).substr(c.out_off);
}

void H2Connection::consume_output(std::size_t n) {
  Impl& c = *impl_;
  c.out_off += std::min(n, c.out.size() - c.out_off);
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
  } else if (c.out_off >= kOutputChunk) {
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
}

void H2Connection::consume_body(std::int32_t stream, std::size_t n) {
  Impl& c = *impl_;
  Stream* s = c.find(stream);
  if (s == nullptr) {
    return;  // closed: its unconsumed bytes were given back then
  }
  n = std::min(n, s->unconsumed);
  s->unconsumed -= n;
  nghttp2_session_consume(c.session, stream, n);
}

bool H2Connection::submit_response(std::int32_t stream,
                                   int status,
                                   std::span<const H2Header> headers,
                                   bool end_stream) {
  Impl& c = *impl_;
  Stream* s = c.find(stream);
  if (s == nullptr || s->response_done || s->has_body) {
    return false;
  }
  const std::string code = std::to_string(status);
  std::vector<nghttp2_nv> nv;
  nv.reserve(headers.size() + 1);
  nv.push_back(make_nv(":status", code));
  for (const H2Header& h : headers) {
    if (!connection_specific(h.name)) {
      nv.push_back(make_nv(h.name, h.value));  // nghttp2 copies it lower-cased
    }
  }
  nghttp2_data_provider provider{};
  provider.read_callback = read_body;
  if (nghttp2_submit_response(c.session, stream, nv.data(), nv.size(),
                              end_stream ? nullptr : &provider) != 0) {
    return false;
  }
  s->has_body = !end_stream;
  s->response_done = end_stream;
  return true;
}

bool H2Connection::send_body(std::int32_t stream, std::string_view data, bool end) {
  Impl& c = *impl_;
  Stream* s = c.find(stream);
  if (s == nullptr || !s->has_body || s->body_end) {
    return false;
  }
  s->body.append(data);
  c.body_total += data.size();
  s->body_end = end;
  if (s->deferred) {
    s->deferred = false;
    nghttp2_session_resume_data(c.session, stream);
  }
  return true;
}

std::size_t H2Connection::body_buffered(std::int32_t stream) const {
  auto it = impl_->streams.find(stream);
  return it == impl_->streams.end() ? 0 : it->second.body.size() - it->second.body_off;
}

void H2Connection::reset(std::int32_t stream, std::uint32_t error_code) {
  nghttp2_submit_rst_stream(impl_->session, NGHTTP2_FLAG_NONE, stream, error_code);
}

void H2Connection::goaway(std::uint32_t error_code, std::string reason) {
  Impl& c = *impl_;
  if (error_code == kH2NoError) {
    nghttp2_submit_goaway(c.session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c.session), kH2NoError, nullptr,
                          0);
  } else {
    if (c.fatal_reason.empty()) {
      c.fatal_code = error_code;
      c.fatal_reason = !reason.empty() ? std::move(reason)
                                       : std::string("HTTP/2 connection ended by the proxy (") +
                                             nghttp2_http2_strerror(error_code) + ")";
    }
    nghttp2_session_terminate_session(c.session, error_code);
  }
}

bool H2Connection::output_overflow() const {
  return impl_->buffered() > impl_->limits.max_output_buffered;
}

std::size_t H2Connection::output_buffered() const {
  return impl_->buffered();
}

bool H2Connection::wants_read() const {
  return nghttp2_session_want_read(impl_->session) != 0;
}

bool H2Connection::finished() {
  return pending_output().empty() && nghttp2_session_want_read(impl_->session) == 0 &&
         nghttp2_session_want_write(impl_->session) == 0;
}

std::string_view H2Connection::close_reason() const {
  return impl_->fatal_reason;
}

std::size_t H2Connection::open_streams() const {
  return impl_->streams.size();
}

}  // namespace zmproxy::proxy::http

#pragma once
// One request forwarded to a mailbox web server and its answer streamed back,
// on one upstream connection (fresh or kept): the request header written by
// hand with the proxy's forwarding fields, "100 Continue" answered here, the
// body streamed (paced), the response header read (interim 1xx skipped), its
// Location rewritten to the public URL, hop-by-hop fields replaced, the
// configured fields set, and the body relayed (chunked when the mailbox
// delimits it by closing). A 101 to a WebSocket upgrade becomes a tunnel
// (tunnel.hpp). Templates over the stream types; included by session.cpp only
// (see message_io.hpp).
//
// Thread affinity: the connection's worker.

#include "lib/proxy/http/forwarding.hpp"
#include "lib/proxy/http/login_throttling.hpp"
#include "lib/proxy/http/message_io.hpp"
#include "lib/proxy/http/public_url.hpp"
#include "lib/proxy/http/target.hpp"
#include "lib/proxy/http/tunnel.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

namespace zmproxy::proxy::http {

// What serve_request decides about a request once, before any attempt: an
// attempt on a second connection must not re-derive it from a header whose
// hop-by-hop fields are already gone.
struct Prepared {
  bool upgrade = false;          // a WebSocket upgrade (the only one passed on)
  bool expect_continue = false;  // the client waits for "100 Continue"
  std::chrono::milliseconds read_timeout{0};
  // The client's Connection: close (or HTTP/1.0 without keep-alive), read
  // before the hop-by-hop fields leave the request.
  bool client_keep_alive = true;
};

// Whether a request the server did not answer in time may go to the next
// server of the IP hash (nginx's proxy_next_upstream timeout): not when it
// changes something (POST, LOCK, PATCH, as nginx), nor once a body went up.
inline bool may_repeat(bhttp::verb method) {
  return method != bhttp::verb::post && method != bhttp::verb::lock && method != bhttp::verb::patch;
}

// What one attempt left behind, besides its result.
struct Attempt {
  bool upstream_reusable = false;  // the upstream connection may be kept
  bool response_started = false;   // something of an answer reached the client
  // For passive health (upstream_health.hpp): the mailbox's header came; or
  // writing the request or reading the header failed (a close or reset), or
  // the header did not come within the read timeout.
  bool answered = false;
  bool upstream_error = false;
  bool upstream_timeout = false;
  // The proxy's own 502 or 504 that the caller sends once it has reported
  // the failure (so the next request already knows); 0: none.
  int answer_owed = 0;
};

// How sending the request went.
enum class Sent {
  whole,      // header and body are with the mailbox
  retry,      // the header could not be written: another connection may take it
  abandoned,  // the client is gone, or its body stalled (408 sent): the connection ends
};

// The request header, then "100 Continue" to the client when it waits for
// one, then the body as it came (a chunked one re-framed). `body_sent`: a
// real body went up (the request cannot be repeated).
template <class Client, class Up>
asio::awaitable<Sent> send_request(ClientConnection& c, Client& client, beast::flat_buffer& cbuf, RequestParser& rp,
                                   const Prepared& prep, Up& up, Attempt& a, bool& body_sent) {
  auto& req = rp.get();
  // Forwarding fields are ours (forwarding.hpp).
  std::string& head = c.head;
  serialize_header(head, req.base());
  serialize_fields(head, req.base(), c.forwarded,
                   [trusted = c.peer_trusted](std::string_view name) { return drop_client_field(name, trusted); });
  std::uint64_t head_sent = 0;
  const std::array<asio::const_buffer, 1> head_piece{asio::buffer(head)};
  const beast::error_code hec = co_await write_pieces(up, head_piece, c.cfg.http.send_timeout, head_sent);
  if (hec) {
    a.upstream_error = true;
    a.upstream_timeout = hec == beast::error::timeout;
    co_return Sent::retry;  // stale pooled connection or dead server: retry elsewhere
  }
  if (prep.expect_continue && !rp.is_done()) {
    static constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";
    Timed deadline(client, c.cfg.http.send_timeout);
    auto [cec, cn] = co_await asio::async_write(client, asio::buffer(k_continue.data(), k_continue.size()),
                                                net::use_nothrow);
    if (cec || deadline.expired()) {
      a.upstream_reusable = false;
      co_return Sent::abandoned;
    }
  }
  body_sent = false;
  if (rp.is_done()) {
    co_return Sent::whole;
  }
  std::uint64_t sent_up = 0;
  const BodyPace pace{std::chrono::steady_clock::now(), c.cfg.http.body_timeout, c.cfg.http.body_min_rate};
  const auto relayed = co_await relay_body(client, cbuf, rp, up, std::string_view(), req.chunked(),
                                           c.cfg.http.client_timeout, c.cfg.http.send_timeout, c.info.bytes_in,
                                           sent_up, &pace);
  if (relayed.ec) {
    a.upstream_reusable = false;  // half a request went up: this connection is done
    if (relayed.reading && relayed.ec == beast::error::timeout) {
      a.response_started = true;
      co_await send_simple(c, client, req.version(), bhttp::status::request_timeout,
                           "The request body came too slowly.", false, {});
    }
    co_return Sent::abandoned;
  }
  // Only a real body makes the request unrepeatable.
  body_sent = req.chunked() || (req.has_content_length() && req[bhttp::field::content_length] != "0");
  co_return Sent::whole;
}

// The response header into `resp`; interim 1xx answers (but 101) are skipped.
template <class Up>
asio::awaitable<beast::error_code> read_response_header(ClientConnection& c, Up& up, beast::flat_buffer& ubuf,
                                                        std::optional<ResponseParser>& resp, bool head_request,
                                                        std::chrono::milliseconds read_timeout) {
  beast::error_code rec;
  std::optional<Timed> deadline;
  while (true) {
    resp.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(FieldsAllocator(c.arena)));
    resp->body_limit(boost::none);
    resp->header_limit(64 * 1024);
    resp->skip(head_request);  // a HEAD answer has no body
    if constexpr (k_plain_socket<Up>) {
      std::size_t header_bytes = 0;
      rec = co_await read_header_now(up, ubuf, *resp, deadline, read_timeout, k_upstream_read_room, true,
                                     header_bytes);
    } else {
      Timed timed(up, read_timeout);
      auto [e, rn] = co_await bhttp::async_read_header(up, ubuf, *resp, net::use_nothrow);
      rec = timed.result(e);
    }
    const unsigned code = resp->get().result_int();
    if (rec || code < 100 || code >= 200 || code == 101) {
      co_return rec;
    }
  }
}

// The mailbox's header as the client gets it: an internal Location becomes
// the public one, hop-by-hop fields go, the configured fields are set.
template <class Request, class Response>
void rewrite_response_header(const ClientConnection& c, const Request& req, Response& res, const Target& t) {
  if (auto loc = res.find(bhttp::field::location); loc != res.end()) {
    res.set(bhttp::field::location,
            rewrite_location(loc->value(), internal_base(c.cfg.upstream.ssl, t),
                             public_base(c.cfg.http, c.tls, std::string(req[bhttp::field::host]), t)));
  }
  erase_hop_by_hop(res);
  set_configured_fields(res.base(), c.cfg.http);
}

// The response header and body to the client. Whether the client connection
// stays open.
template <class Client, class Up, class Request>
asio::awaitable<bool> relay_response(ClientConnection& c,
                                     Client& client,
                                     const Request& req,
                                     ResponseParser& resp,
                                     Up& up,
                                     beast::flat_buffer& ubuf,
                                     const Prepared& prep,
                                     bool& relayed_whole) {
  auto& res = resp.get();
  const std::chrono::milliseconds read_timeout = prep.read_timeout;
  bool client_keep_alive = prep.client_keep_alive;
  // A body delimited by the upstream closing cannot be on a kept-alive client
  // connection: an HTTP/1.1 client gets it chunked, an HTTP/1.0 one until
  // the connection closes.
  const auto code = static_cast<int>(res.result_int());
  if (!res.has_content_length() && !res.chunked() && !resp.is_done() && code >= 200 && code != 204 &&
      code != 304) {
    if (req.version() >= 11) {
      res.chunked(true);
    } else {
      client_keep_alive = false;
    }
  }
  res.keep_alive(client_keep_alive);
  std::string& head = c.head;
  serialize_header(head, res.base());
  serialize_fields(head, res.base(), {}, k_keep_all);
  // An answer to HEAD, a 204 or a 304 has no body, not even an empty chunked
  // one, whatever its header says.
  const bool has_body = req.method() != bhttp::verb::head && code != 204 && code != 304;
  std::uint64_t read_up = 0;
  const auto relayed = co_await relay_body(up, ubuf, resp, client, std::string_view(head), res.chunked() && has_body,
                                           read_timeout, c.cfg.http.send_timeout, read_up, c.info.bytes_out);
  relayed_whole = !relayed.ec;
  co_return relayed_whole && client_keep_alive;
}

// Run one request/response exchange on `up` (fresh or reused). nullopt:
// nothing of the answer reached the client, and the request may be tried on
// another connection unless a.response_started (then a.answer_owed says
// which error the caller sends); else whether the client connection stays
// open.
template <class Client, class Up>
asio::awaitable<std::optional<bool>> exchange(ClientConnection& c, Client& client, beast::flat_buffer& cbuf,
                                              RequestParser& rp, const Prepared& prep, Up& up,
                                              beast::flat_buffer& ubuf, const Target& t, Attempt& a) {
  auto& req = rp.get();
  bool body_sent = false;
  switch (co_await send_request(c, client, cbuf, rp, prep, up, a, body_sent)) {
    case Sent::whole:
      break;
    case Sent::retry:
      co_return std::nullopt;
    case Sent::abandoned:
      co_return false;
  }
  std::optional<ResponseParser> resp;
  if (const beast::error_code rec = co_await read_response_header(c, up, ubuf, resp,
                                                                  req.method() == bhttp::verb::head,
                                                                  prep.read_timeout)) {
    a.upstream_reusable = false;
    a.upstream_timeout = rec == beast::error::timeout;
    a.upstream_error = !a.upstream_timeout;
    if (body_sent && rec != beast::error::timeout) {
      // The client's body is gone: the request cannot be tried elsewhere.
      a.response_started = true;
      a.answer_owed = 502;
    } else if (rec == beast::error::timeout &&
               !(t.from_ip_hash && !body_sent && may_repeat(req.method()))) {
      // A slow server: a looked-up route has no other, and a request that
      // changes something may have been done (nginx's non_idempotent).
      a.response_started = true;
      a.answer_owed = 504;
    }
    co_return std::nullopt;
  }
  a.response_started = true;
  a.answered = true;
  auto& res = resp->get();
  c.status = static_cast<int>(res.result_int());
  co_await count_login(c);  // before the client sees the verdict (login_throttling.hpp)
  const bool upstream_keep_alive = res.keep_alive();
  const bool switching = res.result() == bhttp::status::switching_protocols;
  if (switching && !prep.upgrade) {
    // A switch nobody asked for: the bytes after it are not HTTP.
    a.upstream_reusable = false;
    co_await send_upstream_error(c, client, req.version(), bhttp::status::bad_gateway);
    co_return false;
  }
  rewrite_response_header(c, req, res, t);
  if (switching) {
    if constexpr (k_plain_socket<Up>) {
      net::mark_read_unknown(up);  // the tunnel's reads wait first
    }
    a.upstream_reusable = false;
    co_await relay_upgrade(c, client, cbuf, up, ubuf, res);
    co_return false;
  }
  bool relayed_whole = false;
  const bool client_keep_alive = co_await relay_response(c, client, req, *resp, up, ubuf, prep, relayed_whole);
  if (!relayed_whole) {
    a.upstream_reusable = false;
    co_return false;
  }
  // A plain socket whose answer came whole with a header read that found it
  // empty stays marked drained (read_header_now): the pool may trust the
  // reactor's readiness instead of a peek (upstream_pool.hpp, take).
  // relay_body unmarked it before any read of its own.
  // An upstream that was asked to upgrade and declined may still act on the
  // request's Connection: Upgrade later: not kept (nor is anything with
  // bytes left over; the pool checks that).
  a.upstream_reusable = upstream_keep_alive && !prep.upgrade;
  co_return client_keep_alive;
}

}  // namespace zmproxy::proxy::http

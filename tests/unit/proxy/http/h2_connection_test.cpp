// H2Connection driven by an in-memory nghttp2 client session: bytes go back
// and forth through strings, no sockets.
#include "lib/proxy/http/h2_connection.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <nghttp2/nghttp2.h>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace zmproxy::proxy::http;

namespace {

struct Recorder : H2Handler {
  std::vector<H2RequestHead> heads;
  std::map<std::int32_t, std::string> data;
  std::set<std::int32_t> ended;
  std::map<std::int32_t, std::uint32_t> resets;
  std::set<std::int32_t> closed;
  std::function<void(const H2RequestHead&)> head_hook;

  void on_request_head(const H2RequestHead& head) override {
    heads.push_back(head);
    if (head_hook) {
      head_hook(head);
    }
  }
  void on_request_data(std::int32_t stream, std::string_view d) override { data[stream] += d; }
  void on_request_end(std::int32_t stream) override { ended.insert(stream); }
  void on_stream_reset(std::int32_t stream, std::uint32_t code) override { resets[stream] = code; }
  void on_stream_closed(std::int32_t stream) override { closed.insert(stream); }
};

// A client session; what it receives is recorded per stream.
struct Client {
  nghttp2_session* session = nullptr;
  std::map<std::int32_t, std::string> status;
  std::map<std::int32_t, std::string> body;
  std::map<std::int32_t, std::uint32_t> rst;
  std::set<std::int32_t> closed;
  std::optional<std::uint32_t> goaway;
  std::map<std::int32_t, std::pair<std::string, std::size_t>> uploads;
  std::size_t upload_chunk = static_cast<std::size_t>(-1);  // body bytes a DATA frame
  std::size_t padded = 0;                                   // padding bytes sent

  Client() {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl,
               const uint8_t* v, size_t vl, uint8_t, void* u) {
          if (std::string_view(reinterpret_cast<const char*>(n), nl) == ":status") {
            static_cast<Client*>(u)->status[f->hd.stream_id] =
                std::string(reinterpret_cast<const char*>(v), vl);
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t len, void* u) {
          static_cast<Client*>(u)->body[id].append(reinterpret_cast<const char*>(d), len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, void* u) {
          auto* c = static_cast<Client*>(u);
          if (f->hd.type == NGHTTP2_RST_STREAM) {
            c->rst[f->hd.stream_id] = f->rst_stream.error_code;
          } else if (f->hd.type == NGHTTP2_GOAWAY) {
            c->goaway = f->goaway.error_code;
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, int32_t id, uint32_t, void* u) {
          static_cast<Client*>(u)->closed.insert(id);
          return 0;
        });
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    // Before the server's SETTINGS arrive, send as many streams as asked.
    nghttp2_option_set_peer_max_concurrent_streams(opt, 100000);
    nghttp2_session_client_new2(&session, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Client() { nghttp2_session_del(session); }

  std::string take_output() {
    std::string out;
    for (;;) {
      const uint8_t* d = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session, &d);
      if (n <= 0) {
        return out;
      }
      out.append(reinterpret_cast<const char*>(d), static_cast<std::size_t>(n));
    }
  }
  void receive(std::string_view bytes) {
    const ssize_t n = nghttp2_session_mem_recv(
        session, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    REQUIRE(n == static_cast<ssize_t>(bytes.size()));
  }

  std::int32_t request(const std::string& method,
                       const std::string& path,
                       std::vector<std::pair<std::string, std::string>> extra = {},
                       std::optional<std::string> upload = std::nullopt) {
    std::vector<std::pair<std::string, std::string>> fields = {{":method", method},
                                                               {":scheme", "https"},
                                                               {":authority", "mail.example.com"},
                                                               {":path", path}};
    fields.insert(fields.end(), extra.begin(), extra.end());
    std::vector<nghttp2_nv> nv;
    for (auto& [n, v] : fields) {
      nv.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                    n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    provider.read_callback = [](nghttp2_session*, int32_t id, uint8_t* buf, size_t len,
                                uint32_t* flags, nghttp2_data_source*, void* u) -> ssize_t {
      auto* c = static_cast<Client*>(u);
      auto& [text, off] = c->uploads[id];
      const std::size_t n = std::min({len, c->upload_chunk, text.size() - off});
      std::memcpy(buf, text.data() + off, n);
      off += n;
      if (off == text.size()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
      }
      return static_cast<ssize_t>(n);
    };
    const std::int32_t id = nghttp2_submit_request(session, nullptr, nv.data(), nv.size(),
                                                   upload ? &provider : nullptr, nullptr);
    REQUIRE(id > 0);
    if (upload) {
      uploads[id] = {*upload, 0};
    }
    return id;
  }
};

// Bytes both ways until neither side has anything to say (or the server
// fails); at most `rounds` rounds.
tl::expected<void, std::string> pump(H2Connection& server, Client& client, int rounds = 1000) {
  for (int i = 0; i < rounds; ++i) {
    const std::string down(server.pending_output());
    server.consume_output(down.size());
    client.receive(down);
    const std::string up = client.take_output();
    if (down.empty() && up.empty()) {
      return {};
    }
    if (auto r = server.feed(up); !r) {
      return r;
    }
  }
  return {};
}

std::string frame(std::uint8_t type,
                  std::uint8_t flags,
                  std::uint32_t stream,
                  std::string payload) {
  std::string f;
  const std::size_t n = payload.size();
  f += static_cast<char>((n >> 16) & 0xff);
  f += static_cast<char>((n >> 8) & 0xff);
  f += static_cast<char>(n & 0xff);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  f += static_cast<char>((stream >> 24) & 0x7f);
  f += static_cast<char>((stream >> 16) & 0xff);
  f += static_cast<char>((stream >> 8) & 0xff);
  f += static_cast<char>(stream & 0xff);
  return f + payload;
}

}  // namespace

TEST_CASE("h2: a GET arrives as one request head with its pseudo-headers", "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  const auto id = client.request("GET", "/service/home/~/inbox?fmt=json",
                                 {{"cookie", "ZM_AUTH_TOKEN=abc"}, {"user-agent", "test"}});
  REQUIRE(pump(server, client));
  REQUIRE(events.heads.size() == 1);
  const H2RequestHead& head = events.heads[0];
  CHECK(head.stream == id);
  CHECK(head.method == "GET");
  CHECK(head.scheme == "https");
  CHECK(head.authority == "mail.example.com");
  CHECK(head.path == "/service/home/~/inbox?fmt=json");
  CHECK(head.end_stream);
  REQUIRE(head.headers.size() == 2);
  CHECK(head.headers[0].name == "cookie");
  CHECK(head.headers[0].value == "ZM_AUTH_TOKEN=abc");
  CHECK(head.headers[1].name == "user-agent");
  CHECK(events.ended.count(id) == 1);

  const std::vector<H2Header> fields = {{"content-type", "text/plain"}};
  REQUIRE(server.submit_response(id, 200, fields, false));
  REQUIRE(server.send_body(id, "hello", true));
  REQUIRE(pump(server, client));
  CHECK(client.status[id] == "200");
  CHECK(client.body[id] == "hello");
  CHECK(events.closed.count(id) == 1);
  CHECK(server.open_streams() == 0);
}

TEST_CASE("h2: a request body arrives in pieces, the window reopens only as it is consumed",
          "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  std::string upload(200 * 1024, 'x');
  for (std::size_t i = 0; i < upload.size(); ++i) {
    upload[i] = static_cast<char>('a' + i % 26);
  }
  const auto id = client.request("POST", "/upload", {}, upload);
  REQUIRE(pump(server, client));
  REQUIRE(events.heads.size() == 1);
  CHECK_FALSE(events.heads[0].end_stream);
  // Nothing consumed: no more than the stream's window (64 KiB) is buffered.
  CHECK(events.data[id].size() > 0);
  CHECK(events.data[id].size() <= 64 * 1024);
  CHECK(events.ended.count(id) == 0);
  const std::size_t first = events.data[id].size();
  REQUIRE(pump(server, client));
  CHECK(events.data[id].size() == first);  // still stalled

  std::size_t consumed = 0;
  int rounds = 0;
  while (events.ended.count(id) == 0 && rounds++ < 100) {
    server.consume_body(id, events.data[id].size() - consumed);
    consumed = events.data[id].size();
    REQUIRE(pump(server, client));
  }
  CHECK(events.ended.count(id) == 1);
  CHECK(events.data[id] == upload);
  CHECK(rounds > 2);  // it took several reopenings
}

TEST_CASE("h2: 100 concurrent streams on one connection are all answered", "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 100; ++i) {
    ids.push_back(client.request("GET", "/s/" + std::to_string(i)));
  }
  REQUIRE(pump(server, client));
  REQUIRE(events.heads.size() == 100);
  CHECK(server.open_streams() == 100);
  for (const auto id : ids) {
    REQUIRE(server.submit_response(id, 200, {}, false));
    REQUIRE(server.send_body(id, "ok-" + std::to_string(id), true));
  }
  REQUIRE(pump(server, client));
  for (const auto id : ids) {
    CHECK(client.status[id] == "200");
    CHECK(client.body[id] == "ok-" + std::to_string(id));
  }
  CHECK(client.rst.empty());
  CHECK(server.open_streams() == 0);
}

TEST_CASE("h2: a response body larger than the window flows as the client acknowledges",
          "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  const auto id = client.request("GET", "/big");
  REQUIRE(pump(server, client));
  REQUIRE(server.submit_response(id, 200, {}, false));
  const std::size_t total = 1024 * 1024;  // 16 client windows
  const std::size_t chunk = 32 * 1024;
  std::size_t sent = 0;
  std::size_t most_buffered = 0;
  for (int round = 0; round < 10000 && client.closed.count(id) == 0; ++round) {
    while (sent < total && server.body_buffered(id) < 2 * chunk) {
      REQUIRE(server.send_body(id, std::string(chunk, 'z'), sent + chunk == total));
      sent += chunk;
    }
    most_buffered = std::max(most_buffered, server.body_buffered(id));
    REQUIRE(pump(server, client, 1));
  }
  CHECK(client.status[id] == "200");
  CHECK(client.body[id].size() == total);
  CHECK(most_buffered <= 3 * chunk);
}

TEST_CASE("h2: a stream past max concurrent streams is refused (REFUSED_STREAM)", "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 101; ++i) {
    ids.push_back(client.request("GET", "/s/" + std::to_string(i)));
  }
  // All sent before the server's SETTINGS reach the client.
  REQUIRE(server.feed(client.take_output()));
  REQUIRE(pump(server, client));
  CHECK(events.heads.size() == 100);
  CHECK(server.open_streams() == 100);
  CHECK(client.rst[ids.back()] == NGHTTP2_REFUSED_STREAM);
  CHECK(client.rst.size() == 1);
  CHECK_FALSE(client.goaway);
}

TEST_CASE("h2: a rapid-reset flood ends the connection with GOAWAY ENHANCE_YOUR_CALM",
          "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  REQUIRE(pump(server, client));
  int failed_at = -1;
  std::string reason;
  for (int i = 0; i < 300 && failed_at < 0; ++i) {
    const auto id = client.request("GET", "/r");
    std::string bytes = client.take_output();
    nghttp2_submit_rst_stream(client.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    bytes += client.take_output();
    if (auto r = server.feed(bytes); !r) {
      failed_at = i;
      reason = r.error();
    }
  }
  CHECK(failed_at == 100);  // the 101st early reset among the last 1000 streams
  CHECK(reason.find("rapid reset") != std::string::npos);
  CHECK(events.resets.size() == 101);
  client.receive(server.pending_output());
  REQUIRE(client.goaway);
  CHECK(*client.goaway == NGHTTP2_ENHANCE_YOUR_CALM);
}

TEST_CASE("h2: streams reset after their answer do not count as rapid resets", "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  events.head_hook = [&](const H2RequestHead& head) {
    server.submit_response(head.stream, 204, {}, true);
  };
  Client client;
  for (int i = 0; i < 300; ++i) {
    client.request("GET", "/r");
    REQUIRE(pump(server, client));
  }
  CHECK(events.heads.size() == 300);
  CHECK_FALSE(client.goaway);
}

TEST_CASE("h2: a header block split into thousands of CONTINUATION frames ends the connection",
          "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  REQUIRE(server.feed(client.take_output()));  // preface and SETTINGS
  // HEADERS without END_HEADERS (:method GET, indexed), then empty
  // CONTINUATIONs, fed one at a time: the 9th is refused.
  REQUIRE(server.feed(frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, "\x82")));
  int failed_at = -1;
  std::string reason;
  for (int i = 0; i < 5000 && failed_at < 0; ++i) {
    if (auto r = server.feed(frame(NGHTTP2_CONTINUATION, 0, 1, "")); !r) {
      failed_at = i;
      reason = r.error();
    }
  }
  CHECK(failed_at == 8);
  CHECK(reason.find("CONTINUATION") != std::string::npos);
  CHECK(events.heads.empty());
  // Fed all at once, the same: nothing past the limit is held.
  CHECK_FALSE(server.feed(frame(NGHTTP2_CONTINUATION, 0, 1, "")));
  client.receive(server.pending_output());
  REQUIRE(client.goaway);
  CHECK(*client.goaway == NGHTTP2_ENHANCE_YOUR_CALM);
}

TEST_CASE("h2: thousands of CONTINUATION frames in one write end the connection", "[http][h2]") {
  Recorder events;
  H2Limits limits;
  limits.max_continuation_frames = GENERATE(8u, 3u);
  H2Connection server(events, limits);
  Client client;
  std::string flood = client.take_output();
  flood += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, "\x82");
  for (int i = 0; i < 10000; ++i) {
    flood += frame(NGHTTP2_CONTINUATION, 0, 1, "");
  }
  const auto r = server.feed(flood);
  REQUIRE_FALSE(r);
  CHECK(r.error().find("more than " + std::to_string(limits.max_continuation_frames) +
                       " CONTINUATION") != std::string::npos);
  CHECK(server.open_streams() <= 1);
  client.receive(server.pending_output());
  REQUIRE(client.goaway);
  CHECK(*client.goaway == NGHTTP2_ENHANCE_YOUR_CALM);
}

TEST_CASE("h2: a header block over its byte bound ends the connection", "[http][h2]") {
  Recorder events;
  H2Limits limits;
  limits.max_header_block_bytes = 20000;
  H2Connection server(events, limits);
  Client client;
  REQUIRE(server.feed(client.take_output()));
  // A literal field (no indexing) whose 30000-byte value spans frames.
  std::string block = "\x82";
  block += '\x00';
  block += '\x01';
  block += 'x';
  block += '\x7f';  // length 127 + 29873 (HPACK integer, 7-bit prefix)
  std::size_t rest = 30000 - 127;
  while (rest >= 128) {
    block += static_cast<char>(0x80 | (rest & 0x7f));
    rest >>= 7;
  }
  block += static_cast<char>(rest);
  block += std::string(30000, 'v');
  REQUIRE(server.feed(frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, block.substr(0, 16000))));
  const auto r = server.feed(frame(NGHTTP2_CONTINUATION, 0, 1, block.substr(16000, 8000)));
  REQUIRE_FALSE(r);
  CHECK(r.error().find("header block over 20000 bytes") != std::string::npos);
}

TEST_CASE("h2: a header list over the limit is answered 431 and the connection lives on",
          "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  const auto big = client.request("GET", "/big-headers", {{"x-big", std::string(20000, 'b')}});
  REQUIRE(pump(server, client));
  CHECK(events.heads.empty());
  CHECK(client.status[big] == "431");
  CHECK(client.closed.count(big) == 1);
  const auto next = client.request("GET", "/next");
  REQUIRE(pump(server, client));
  REQUIRE(events.heads.size() == 1);
  CHECK(events.heads[0].stream == next);
  CHECK_FALSE(client.goaway);
}

TEST_CASE("h2: an HTTP/1.1 request (or h2c Upgrade) is not an HTTP/2 preface", "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  const auto r = server.feed(
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n");
  REQUIRE_FALSE(r);
  CHECK(r.error().find("h2c") != std::string::npos);
  CHECK(events.heads.empty());
}

TEST_CASE("h2: a client that does not read is reported once output passes the bound",
          "[http][h2]") {
  Recorder events;
  H2Limits limits;
  limits.max_output_buffered = 128 * 1024;
  H2Connection server(events, limits);
  Client client;
  const auto id = client.request("GET", "/");
  REQUIRE(pump(server, client));
  REQUIRE(server.submit_response(id, 200, {}, false));
  REQUIRE(server.send_body(id, std::string(100 * 1024, 'a'), false));
  CHECK_FALSE(server.output_overflow());
  REQUIRE(server.send_body(id, std::string(100 * 1024, 'a'), false));
  CHECK(server.output_overflow());
  const auto r = server.feed("");
  REQUIRE_FALSE(r);
  CHECK(r.error().find("does not read") != std::string::npos);
}

TEST_CASE("h2: a stream the client resets is reported and its unread body given back",
          "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  const auto id = client.request("POST", "/up", {}, std::string(10000, 'q'));
  REQUIRE(pump(server, client));
  CHECK(events.data[id].size() == 10000);
  nghttp2_submit_rst_stream(client.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  REQUIRE(pump(server, client));
  CHECK(events.resets[id] == NGHTTP2_CANCEL);
  CHECK(events.closed.count(id) == 1);
  CHECK(server.open_streams() == 0);
  CHECK_FALSE(server.submit_response(id, 200, {}, true));
  CHECK_FALSE(server.send_body(id, "x", true));
}

TEST_CASE("h2: cookie crumbs are one field, a response drops fields HTTP/2 forbids", "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  const auto id = client.request(
      "GET", "/", {{"cookie", "a=1"}, {"accept", "*/*"}, {"cookie", "ZM_AUTH_TOKEN=t"}});
  REQUIRE(pump(server, client));
  REQUIRE(events.heads.size() == 1);
  REQUIRE(events.heads[0].headers.size() == 2);
  CHECK(events.heads[0].headers[0].name == "cookie");
  CHECK(events.heads[0].headers[0].value == "a=1; ZM_AUTH_TOKEN=t");
  CHECK(events.heads[0].headers[1].name == "accept");

  const std::vector<H2Header> fields = {{"Content-Type", "text/html"},
                                        {"Connection", "keep-alive"},
                                        {"Keep-Alive", "timeout=5"},
                                        {"Transfer-Encoding", "chunked"}};
  REQUIRE(server.submit_response(id, 200, fields, true));
  REQUIRE(pump(server, client));
  // A client rejects a response with a connection-specific field (stream
  // error): a 200 that arrives proves they were left out.
  CHECK(client.status[id] == "200");
  CHECK(client.rst.count(id) == 0);
  CHECK_FALSE(server.submit_response(id, 200, {}, true));  // answered (and gone)
}

TEST_CASE("h2: unconsumed bodies of all streams stay within the connection window", "[http][h2]") {
  Recorder events;
  H2Limits limits;
  limits.connection_window_size = 256 * 1024;
  H2Connection server(events, limits);
  Client client;
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 8; ++i) {  // 8 x 64 KiB windows = 512 KiB
    ids.push_back(client.request("POST", "/u", {}, std::string(100 * 1024, 'p')));
  }
  REQUIRE(pump(server, client));
  std::size_t held = 0;
  for (const auto id : ids) {
    held += events.data[id].size();
  }
  CHECK(held > 0);
  CHECK(held <= limits.connection_window_size);
  // Streams closed with bytes unconsumed give them back to the connection:
  // the others can finish.
  for (std::size_t i = 0; i < 4; ++i) {
    server.reset(ids[i], kH2Cancel);
  }
  for (int round = 0; round < 100 && events.ended.size() < 4; ++round) {
    for (std::size_t i = 4; i < ids.size(); ++i) {
      server.consume_body(ids[i], events.data[ids[i]].size());
    }
    REQUIRE(pump(server, client));
  }
  CHECK(events.ended.size() == 4);
  for (std::size_t i = 4; i < ids.size(); ++i) {
    CHECK(events.data[ids[i]].size() == 100 * 1024);
  }
}

TEST_CASE("h2: a malformed request is reset without a request event", "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  // A connection-specific field is malformed in HTTP/2 (RFC 9113 §8.2.2).
  const auto bad = client.request("GET", "/", {{"connection", "keep-alive"}});
  const auto good = client.request("GET", "/ok");
  REQUIRE(pump(server, client));
  CHECK(client.rst[bad] == NGHTTP2_PROTOCOL_ERROR);
  REQUIRE(events.heads.size() == 1);
  CHECK(events.heads[0].stream == good);
  CHECK(server.open_streams() == 1);
  CHECK_FALSE(client.goaway);
}

TEST_CASE("h2: goaway lets open streams finish, then the connection is finished", "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  const auto id = client.request("GET", "/");
  REQUIRE(pump(server, client));
  server.goaway();
  REQUIRE(pump(server, client));
  REQUIRE(client.goaway);
  CHECK(*client.goaway == NGHTTP2_NO_ERROR);
  CHECK_FALSE(server.finished());
  REQUIRE(server.submit_response(id, 204, {}, true));
  REQUIRE(pump(server, client));
  CHECK(client.status[id] == "204");
  CHECK(server.finished());
}

TEST_CASE("h2: a connection error nghttp2 finds ends the connection with its reason",
          "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  REQUIRE(pump(server, client));
  // DATA on stream 0 is a connection error (RFC 9113 §6.1).
  CHECK(server.close_reason().empty());
  (void)server.feed(frame(NGHTTP2_DATA, 0, 0, "x"));
  const std::string down(server.pending_output());
  server.consume_output(down.size());
  client.receive(down);
  REQUIRE(client.goaway);
  CHECK(*client.goaway == NGHTTP2_PROTOCOL_ERROR);
  CHECK(server.finished());
  CHECK(server.close_reason().rfind("HTTP/2 connection error (PROTOCOL_ERROR): ", 0) == 0);
  CHECK_FALSE(server.feed(""));
}

TEST_CASE("h2: padded request bodies do not leak window", "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  // Rebuild the client with padding: every frame padded to the most.
  nghttp2_session_del(client.session);
  nghttp2_session_callbacks_set_select_padding_callback(
      cb, [](nghttp2_session*, const nghttp2_frame* f, size_t max, void* u) -> ssize_t {
        static_cast<Client*>(u)->padded += max - f->hd.length;
        return static_cast<ssize_t>(max);
      });
  nghttp2_session_callbacks_set_on_stream_close_callback(
      cb, [](nghttp2_session*, int32_t id, uint32_t, void* u) {
        static_cast<Client*>(u)->closed.insert(id);
        return 0;
      });
  nghttp2_session_client_new(&client.session, cb, &client);
  nghttp2_session_callbacks_del(cb);
  nghttp2_submit_settings(client.session, NGHTTP2_FLAG_NONE, nullptr, 0);
  // 500 body bytes a frame, each padded by 256: the padding alone is more
  // than the stream's window, so padding left unconsumed would stall it.
  client.upload_chunk = 500;
  const std::string upload(200 * 1024, 'u');
  const auto id = client.request("POST", "/padded", {}, upload);
  std::size_t consumed = 0;
  for (int round = 0; round < 200 && events.ended.count(id) == 0; ++round) {
    server.consume_body(id, events.data[id].size() - consumed);
    consumed = events.data[id].size();
    REQUIRE(pump(server, client));
  }
  CHECK(events.data[id] == upload);
  CHECK(client.padded > 64 * 1024);
}

TEST_CASE("h2: past max concurrent streams after the SETTINGS ack, the connection ends",
          "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  REQUIRE(pump(server, client));  // SETTINGS exchanged and acknowledged
  // :method GET, :scheme https, :path / (HPACK static table), :authority
  // "a" (a literal not indexed): nghttp2 wants an authority (or Host).
  const std::string block(
      "\x82\x87\x84\x01\x01"
      "a",
      6);
  std::string streams;
  for (std::uint32_t i = 0; i < 101; ++i) {
    streams += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS, 1 + 2 * i,
                     block);
  }
  (void)server.feed(streams);
  CHECK(events.heads.size() == 100);
  client.receive(server.pending_output());
  REQUIRE(client.goaway);
  CHECK(*client.goaway == NGHTTP2_PROTOCOL_ERROR);
  CHECK(server.close_reason().find("max concurrent streams") != std::string::npos);
}

// ---- h2_translate.hpp: the stream as HTTP/1.1 bytes, and back ----

#include "lib/proxy/http/h2_translate.hpp"

TEST_CASE("h2 translate: the request head becomes an HTTP/1.1 head, Host from :authority",
          "[http][h2]") {
  H2RequestHead head;
  head.method = "POST";
  head.path = "/service/soap";
  head.authority = "mail.example.com";
  head.headers = {{"host", "other.example.com"}, {"te", "trailers"}, {"cookie", "a=1; b=2"}};
  head.end_stream = false;
  bool chunked = false;
  const auto h1 = h1_request_head(head, chunked);
  REQUIRE(h1);
  CHECK(chunked);
  CHECK(*h1 ==
        "POST /service/soap HTTP/1.1\r\nHost: mail.example.com\r\ncookie: a=1; b=2\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
  head.headers.push_back({"content-length", "5"});
  REQUIRE(h1_request_head(head, chunked));
  CHECK_FALSE(chunked);  // a known length is passed on as is
  head.end_stream = true;
  head.headers.clear();
  CHECK(*h1_request_head(head, chunked) ==
        "POST /service/soap HTTP/1.1\r\nHost: mail.example.com\r\n\r\n");
  CHECK_FALSE(chunked);
  // Without :authority the client's Host stays.
  head.authority.clear();
  head.headers = {{"host", "mail.example.com"}};
  CHECK(*h1_request_head(head, chunked) ==
        "POST /service/soap HTTP/1.1\r\nhost: mail.example.com\r\n\r\n");
}

TEST_CASE("h2 translate: a head that would not be one HTTP/1.1 head is refused", "[http][h2]") {
  bool chunked = false;
  const auto bad = [&](auto change) {
    H2RequestHead head;
    head.method = "GET";
    head.path = "/";
    head.authority = "mail.example.com";
    head.end_stream = true;
    change(head);
    return !h1_request_head(head, chunked).has_value();
  };
  CHECK(bad([](H2RequestHead& h) { h.path = "/a b"; }));
  CHECK(bad([](H2RequestHead& h) { h.path = "/a HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET /"; }));
  CHECK(bad([](H2RequestHead& h) { h.path.clear(); }));
  CHECK(bad([](H2RequestHead& h) { h.method = "GE T"; }));
  CHECK(bad([](H2RequestHead& h) { h.authority = "a\r\nX: y"; }));
  CHECK(bad([](H2RequestHead& h) { h.headers = {{"x-a", "1\r\nX-Forwarded-For: 1.2.3.4"}}; }));
  CHECK(bad([](H2RequestHead& h) { h.headers = {{"x a", "1"}}; }));
  CHECK(bad([](H2RequestHead& h) { h.headers = {{"x-a", std::string("1\0", 2)}}; }));
  CHECK_FALSE(bad([](H2RequestHead& h) { h.headers = {{"x-a", "tab\tok"}}; }));
}

TEST_CASE("h2 translate: chunks", "[http][h2]") {
  std::string out;
  append_chunk(out, "hello");
  append_chunk(out, "");  // nothing: an empty chunk would end the body
  append_chunk(out, std::string(26, 'x'));
  CHECK(out == "5\r\nhello\r\n1a\r\n" + std::string(26, 'x') + "\r\n");
}

TEST_CASE("h2 translate: an HTTP/1.1 answer fed in pieces reaches the client whole", "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  const auto id = client.request("GET", "/a");
  REQUIRE(pump(server, client));
  H2ResponseRelay relay(false);
  const std::string answer =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
      "Connection: keep-alive\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  for (char ch : answer) {  // one byte at a time: every partial line kept
    REQUIRE(relay.feed(server, id, std::string_view(&ch, 1)));
  }
  CHECK(relay.started());
  CHECK(relay.complete());
  REQUIRE(pump(server, client));
  CHECK(client.status[id] == "200");
  CHECK(client.body[id] == "hello world");
  CHECK(client.closed.count(id) == 1);
}

TEST_CASE("h2 translate: an answer to HEAD and one without body end the stream with the head",
          "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  const auto head_id = client.request("HEAD", "/a");
  const auto get_id = client.request("GET", "/b");
  REQUIRE(pump(server, client));
  H2ResponseRelay head_relay(true);
  REQUIRE(head_relay.feed(server, head_id, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"));
  CHECK(head_relay.complete());
  H2ResponseRelay get_relay(false);
  REQUIRE(get_relay.feed(server, get_id,
                         "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"));
  CHECK(get_relay.complete());
  REQUIRE(pump(server, client));
  CHECK(client.status[head_id] == "200");
  CHECK(client.status[get_id] == "302");
  CHECK(client.closed.count(head_id) == 1);
  CHECK(client.closed.count(get_id) == 1);
}

TEST_CASE("h2 translate: bytes that are no HTTP/1.1 answer fail the stream", "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  const auto id = client.request("GET", "/a");
  REQUIRE(pump(server, client));
  H2ResponseRelay relay(false);
  CHECK_FALSE(relay.feed(server, id, "SSH-2.0-OpenSSH\r\n\r\n"));
  CHECK_FALSE(relay.started());
}

TEST_CASE(
    "h2 translate: a body of known length goes on as it comes, and ends the stream at its length",
    "[http][h2]") {
  Recorder events;
  H2Connection server(events);
  Client client;
  const auto id = client.request("GET", "/a");
  REQUIRE(pump(server, client));
  H2ResponseRelay relay(false);
  REQUIRE(relay.feed(server, id, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhel"));
  CHECK_FALSE(relay.complete());
  for (char ch : std::string("lo world")) {
    REQUIRE(relay.feed(server, id, std::string_view(&ch, 1)));
  }
  CHECK(relay.complete());
  REQUIRE(relay.feed(server, id, "trailing"));  // past the end: dropped
  REQUIRE(pump(server, client));
  CHECK(client.body[id] == "hello world");
  CHECK(client.closed.count(id) == 1);
}

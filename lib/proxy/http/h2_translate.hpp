#pragma once
// An HTTP/2 stream as the HTTP/1.1 message bytes the web session already
// serves (h2_session.hpp): the request's head written as an HTTP/1.1 head
// (its DATA framed as chunks when no Content-Length says its size), and the
// HTTP/1.1 answer the session writes parsed back into the stream's HEADERS
// and DATA. So an h2 request meets the same checks, routing, login
// throttling, forwarding fields and limits as an HTTP/1.1 one, and reaches
// the mailbox over the same HTTP/1.1 keep-alive pool. Pure (no I/O).
//
// Thread affinity: the connection's worker.

#include "lib/proxy/http/h2_connection.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::proxy::http {

// The request's head as HTTP/1.1: "<method> <path> HTTP/1.1", Host from
// :authority (the client's Host field only without one), the fields, and
// Transfer-Encoding: chunked when a body follows without Content-Length
// (`chunked` says so). nullopt for a head that cannot be written as one
// (no :method or :path, a space or control byte in them or in :authority,
// a control byte in a field): the stream is malformed (RFC 9113 §8.1.1).
std::optional<std::string> h1_request_head(const H2RequestHead& head, bool& chunked);

// One chunk of a chunked request body ("<hex>\r\n<data>\r\n"), appended.
void append_chunk(std::string& out, std::string_view data);
inline constexpr std::string_view k_last_chunk = "0\r\n\r\n";

// The HTTP/1.1 answer of one stream, fed as the session writes it, turned
// into submit_response / send_body on the connection. Interim 1xx answers
// are dropped (HTTP/2 clients send bodies without waiting for 100).
class H2ResponseRelay {
 public:
  explicit H2ResponseRelay(bool head_request);
  ~H2ResponseRelay();
  H2ResponseRelay(const H2ResponseRelay&) = delete;
  H2ResponseRelay& operator=(const H2ResponseRelay&) = delete;

  // Every byte is taken (what does not complete a header or chunk line is
  // kept for the next call; what comes after the answer's end, such as the
  // body of a page answering HEAD, is dropped). False when the bytes are not an HTTP/1.1
  // answer or the stream is gone: the caller resets the stream.
  bool feed(H2Connection& h2, std::int32_t stream, std::string_view bytes);
  // The final answer's head went out.
  bool started() const { return m_started; }
  // The answer ended (END_STREAM submitted).
  bool complete() const { return m_complete; }

  struct Parser;

 private:
  bool m_head_request;
  bool m_started = false;
  bool m_complete = false;
  std::string m_pending;  // a partial header or chunk line
  std::unique_ptr<Parser> m_parser;
  // A body of known length goes on as it comes, past the parser (one copy
  // less): how much of it is still to come; -1 while the parser reads it.
  std::int64_t m_raw_left = -1;
};

}  // namespace zmproxy::proxy::http

#pragma once
// HTTP/2 on an HTTPS (or admin) client connection that chose "h2" by ALPN:
// the connection's frames go through H2Connection (h2_connection.hpp) and
// every request stream is served by the same code as an HTTP/1.1 request,
// on an H2Stream: a stream object with Asio's read_some/write_some that
// reads the request as HTTP/1.1 bytes and takes the answer as HTTP/1.1
// bytes (h2_translate.hpp). Each stream has its own ClientConnection (its
// access-log line, its status) and its own coroutine; they share the TLS
// connection's writer.
//
// Bounds: the streams H2Limits allow; a stream's request body holds at most
// its flow-control window (bytes are reopened to the client as the session
// reads them); a stream's answer is taken from the session only while its
// unframed bytes are under k_stream_output and the connection's output
// under half of H2Limits::max_output_buffered (else the session's write
// waits, within its send timeout). The connection waits http.client_timeout
// for a frame while no stream is open (its keep-alive), and
// http.send_timeout for each write to the client.
//
// Thread affinity: the connection's worker; every stream's coroutine runs
// there too (no locking).

#include "lib/net/asio.hpp"
#include "lib/net/tls_stream.hpp"

#include <boost/asio/any_completion_handler.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <span>

namespace zmproxy::proxy::http {

struct ClientConnection;
struct H2StreamState;

using H2IoHandler = net::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

// One request stream as an Asio stream of HTTP/1.1 bytes. Reads give the
// request (head, then body), and end with eof; writes take the answer.
// One read and one write at a time, like any Asio stream. A deadline
// (lib/net/deadline.hpp) cancels the pending operations with
// operation_aborted (cancel_for_deadline).
class H2Stream {
 public:
  using executor_type = net::asio::any_io_executor;

  H2Stream(H2StreamState& state, executor_type ex) : m_state(state), m_ex(std::move(ex)) {}
  executor_type get_executor() const { return m_ex; }

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return net::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          net::asio::mutable_buffer first;
          for (auto it = net::asio::buffer_sequence_begin(b);
               it != net::asio::buffer_sequence_end(b); ++it) {
            const net::asio::mutable_buffer piece(*it);
            if (piece.size() > 0) {
              first = piece;
              break;
            }
          }
          start_read(first, H2IoHandler(std::move(handler)));
        },
        token, buffers);
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return net::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          std::array<net::asio::const_buffer, k_max_write_buffers> pieces;
          std::size_t count = 0;
          for (auto it = net::asio::buffer_sequence_begin(b);
               it != net::asio::buffer_sequence_end(b) && count < pieces.size(); ++it) {
            const net::asio::const_buffer piece(*it);
            if (piece.size() > 0) {
              pieces[count++] = piece;
            }
          }
          start_write(std::span<const net::asio::const_buffer>(pieces.data(), count),
                      H2IoHandler(std::move(handler)));
        },
        token, buffers);
  }

  // For DeadlineScope: fail the pending read and write.
  static void cancel_for_deadline(void* stream) noexcept;

  static constexpr std::size_t k_max_write_buffers = 16;

 private:
  void start_read(net::asio::mutable_buffer buffer, H2IoHandler handler);
  void start_write(std::span<const net::asio::const_buffer> buffers, H2IoHandler handler);

  H2StreamState& m_state;
  executor_type m_ex;
};

// What the session does with one stream: serve its request (the web
// session's serve_request on `stream`, then its access-log line). `c` is the
// stream's own, copied from the connection's.
using H2StreamServer =
    std::function<net::asio::awaitable<void>(ClientConnection& c, H2Stream& stream)>;

// The connection, once the TLS handshake chose "h2"; returns when the
// client is gone or the connection ended, and every stream's coroutine has
// finished.
net::asio::awaitable<void> serve_h2(ClientConnection& c,
                                    net::TlsStream& client,
                                    H2StreamServer serve_stream);

}  // namespace zmproxy::proxy::http

#pragma once
// TlsStream: TLS on a tcp::socket straight from OpenSSL. The SSL object
// reads and writes the non-blocking socket itself (SSL_set_fd); when it
// wants more, the operation waits for the socket's readiness and tries
// again. asio::ssl::stream keeps, per connection and for its whole life, two
// 17 KiB engine buffers plus a BIO pair's own two, and copies every byte
// through them; an idle IMAPS session held ~75 KiB. Here, with
// SSL_MODE_RELEASE_BUFFERS (set on our contexts), an idle connection holds
// OpenSSL's own state (~15 KiB, mostly the SSL object) and the socket only.
//
// The interface is the part of asio::ssl::stream the mail and web sessions
// use: async_handshake, async_read_some, async_write_some (so
// asio::async_write and Beast's reads work), async_shutdown, next_layer,
// native_handle; plus non-blocking read_some/write_some for the relay. One
// operation of each
// direction at a time, as with any Asio stream; cancellation is the
// socket's (cancel or close fails a pending wait with operation_aborted).
// Not thread-safe: all operations run on the socket's executor.

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <utility>

#include <boost/asio/append.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>

#include "lib/net/asio.hpp"
#include "lib/net/socket_adopt.hpp"

namespace zmproxy::net {

class TlsStream {
 public:
  using executor_type = net::tcp::socket::executor_type;
  using next_layer_type = net::tcp::socket;
  using lowest_layer_type = net::tcp::socket::lowest_layer_type;

  TlsStream(net::tcp::socket socket, net::asio::ssl::context& ctx)
      : m_socket(std::move(socket)), m_ssl(SSL_new(ctx.native_handle())) {
    boost::system::error_code ignored;
    set_user_non_blocking(m_socket, ignored);  // no ioctl when non-blocking already
    if (m_ssl != nullptr) {
      SSL_set_fd(m_ssl, static_cast<int>(m_socket.native_handle()));
      SSL_set_mode(m_ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
  }
  ~TlsStream() {
    if (m_ssl != nullptr) {
      SSL_free(m_ssl);
    }
  }
  // Moves only while no operation is pending (the session hands the
  // stream to the relay between operations).
  TlsStream(TlsStream&& o) noexcept
      : m_socket(std::move(o.m_socket)), m_ssl(std::exchange(o.m_ssl, nullptr)) {}
  TlsStream& operator=(TlsStream&&) = delete;
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return m_socket.get_executor(); }
  net::tcp::socket& next_layer() { return m_socket; }
  lowest_layer_type& lowest_layer() { return m_socket.lowest_layer(); }
  SSL* native_handle() { return m_ssl; }

  // Whether the kernel sends / receives this connection's records (kTLS,
  // lib/tls/ktls.hpp): known once the handshake is done. Reads and writes
  // still go through the SSL object either way.
  bool ktls_send() const { return m_ssl != nullptr && BIO_get_ktls_send(SSL_get_wbio(m_ssl)); }
  bool ktls_recv() const { return m_ssl != nullptr && BIO_get_ktls_recv(SSL_get_rbio(m_ssl)); }

  template <class Token>
  auto async_handshake(net::asio::ssl::stream_base::handshake_type type, Token&& token) {
    if (m_ssl != nullptr) {
      if (type == net::asio::ssl::stream_base::client) {
        SSL_set_connect_state(m_ssl);
      } else {
        SSL_set_accept_state(m_ssl);
      }
    }
    return start<void(boost::system::error_code)>(std::forward<Token>(token), [](SSL* ssl, std::size_t&) {
      return SSL_do_handshake(ssl);
    });
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    const net::asio::mutable_buffer b = first(buffers);
    return start<void(boost::system::error_code, std::size_t)>(
        std::forward<Token>(token), [b](SSL* ssl, std::size_t& n) {
          return b.size() == 0 ? 1 : SSL_read_ex(ssl, b.data(), b.size(), &n);
        });
  }

  // Small pieces of a buffer sequence (a header, a chunk frame, a short
  // body) leave together in one record: they are gathered in a per-thread
  // scratch block, anew on each try (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return start<void(boost::system::error_code, std::size_t)>(
        std::forward<Token>(token), [buffers](SSL* ssl, std::size_t& n) {
          constexpr std::size_t k_record = 16 * 1024;
          thread_local char scratch[k_record];
          const net::asio::const_buffer b = first(buffers);
          if (b.size() == 0) {
            return 1;
          }
          if (b.size() >= k_record) {
            return SSL_write_ex(ssl, b.data(), b.size(), &n);
          }
          std::size_t used = 0;
          for (auto it = net::asio::buffer_sequence_begin(buffers);
               it != net::asio::buffer_sequence_end(buffers) && used < k_record; ++it) {
            const net::asio::const_buffer piece = *it;
            const std::size_t take = std::min(piece.size(), k_record - used);
            std::memcpy(scratch + used, piece.data(), take);
            used += take;
          }
          return SSL_write_ex(ssl, scratch, used, &n);
        });
  }

  // Non-blocking, for the relay: what is there now. would_block when the
  // socket has nothing (wait for it to be readable), try_again when TLS
  // must write first (use async_read_some).
  std::size_t read_some(net::asio::mutable_buffer b, boost::system::error_code& ec) {
    return now(ec, [&](std::size_t& n) { return SSL_read_ex(m_ssl, b.data(), b.size(), &n); });
  }
  // Non-blocking: what fits now (would_block or try_again: nothing was
  // taken; hand the same bytes to async_write_some). With kTLS sending
  // (ktls_send), OpenSSL keeps pointing at `b` itself until the bytes are
  // out: on would_block they must stay where they are, unchanged, until
  // the async_write_some that finishes them completes.
  std::size_t write_some(net::asio::const_buffer b, boost::system::error_code& ec) {
    return now(ec, [&](std::size_t& n) { return SSL_write_ex(m_ssl, b.data(), b.size(), &n); });
  }

  // Sends close_notify; does not wait for the peer's (nginx does not either).
  template <class Token>
  auto async_shutdown(Token&& token) {
    return start<void(boost::system::error_code)>(std::forward<Token>(token), [](SSL* ssl, std::size_t&) {
      const int r = SSL_shutdown(ssl);
      return r >= 0 ? 1 : r;
    });
  }

 private:
  template <class Buffers>
  static auto first(const Buffers& buffers) {
    using Buffer = std::conditional_t<std::is_convertible_v<decltype(*net::asio::buffer_sequence_begin(buffers)),
                                                            net::asio::mutable_buffer>,
                                      net::asio::mutable_buffer, net::asio::const_buffer>;
    for (auto it = net::asio::buffer_sequence_begin(buffers); it != net::asio::buffer_sequence_end(buffers); ++it) {
      const Buffer piece = *it;
      if (piece.size() != 0) {
        return piece;
      }
    }
    return Buffer();
  }

  template <class Call>
  std::size_t now(boost::system::error_code& ec, Call call) {
    std::size_t n = 0;
    int want = 0;
    if (m_ssl == nullptr) {
      ec = net::asio::error::no_memory;
      return 0;
    }
    ERR_clear_error();
    ec = error_of(call(n), want);
    if (want == SSL_ERROR_WANT_READ) {
      ec = net::asio::error::would_block;
    } else if (want == SSL_ERROR_WANT_WRITE) {
      ec = net::asio::error::try_again;
    }
    return ec ? 0 : n;
  }

  // The error of an SSL call that returned `ret`; want_read/want_write
  // come back as SSL_ERROR_WANT_* in `want`.
  boost::system::error_code error_of(int ret, int& want) {
    want = 0;
    if (ret > 0) {
      return {};
    }
    const int e = SSL_get_error(m_ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      want = e;
      return {};
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
      return net::asio::error::eof;
    }
    if (e == SSL_ERROR_SYSCALL) {
      const int err = errno;
      ERR_clear_error();
      return err != 0 ? boost::system::error_code(err, boost::system::system_category())
                      : boost::system::error_code(net::asio::ssl::error::stream_truncated);
    }
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    return code != 0 ? boost::system::error_code(static_cast<int>(code), net::asio::error::get_ssl_category())
                     : boost::system::error_code(net::asio::error::connection_reset);
  }

  // One operation: try the SSL call; on want-read/write wait for the socket
  // and try again; complete with the error (and the byte count).
  template <class Handler, class Call, bool WithSize>
  struct Op {
    TlsStream* stream;
    // Kept apart from the stream: a wait aborted because the stream was
    // destroyed completes without touching it.
    executor_type executor;
    Handler handler;
    Call call;

    void run(bool first_try) {
      std::size_t n = 0;
      int want = 0;
      boost::system::error_code ec;
      if (stream->m_ssl == nullptr) {
        ec = net::asio::error::no_memory;
      } else {
        ERR_clear_error();
        ec = stream->error_of(call(stream->m_ssl, n), want);
      }
      if (want != 0) {
        auto& socket = stream->m_socket;
        socket.async_wait(want == SSL_ERROR_WANT_READ ? net::tcp::socket::wait_read : net::tcp::socket::wait_write,
                          [op = std::move(*this)](boost::system::error_code wec) mutable {
                            if (wec) {
                              op.complete(wec, 0, false);  // never touches op.stream
                            } else {
                              op.run(false);
                            }
                          });
        return;
      }
      complete(ec, n, first_try);
    }

    void complete(boost::system::error_code ec, std::size_t n, bool first_try) {
      // Never from inside the initiating call: a first try that finished
      // at once is posted.
      if constexpr (WithSize) {
        if (first_try) {
          net::asio::post(executor, net::asio::append(std::move(handler), ec, n));
        } else {
          net::asio::dispatch(executor, net::asio::append(std::move(handler), ec, n));
        }
      } else {
        if (first_try) {
          net::asio::post(executor, net::asio::append(std::move(handler), ec));
        } else {
          net::asio::dispatch(executor, net::asio::append(std::move(handler), ec));
        }
      }
    }
  };

  template <class Signature, class Token, class Call>
  auto start(Token&& token, Call call) {
    constexpr bool with_size = std::is_same_v<Signature, void(boost::system::error_code, std::size_t)>;
    return net::asio::async_initiate<Token, Signature>(
        [this](auto handler, Call c) {
          using H = std::decay_t<decltype(handler)>;
          Op<H, Call, with_size>{this, m_socket.get_executor(), std::move(handler), std::move(c)}.run(true);
        },
        token, std::move(call));
  }

  net::tcp::socket m_socket;
  SSL* m_ssl = nullptr;
};

}  // namespace zmproxy::net

#pragma once
// The post-login relay. Once the mailbox accepted the login, the session
// hands its two connections and its bookkeeping to a Relay and its
// coroutines end: an idle session then costs this one object, its two
// sockets, two pending readiness waits and an idle timer — no coroutine
// frames and no buffers (the plain path reads into one buffer per worker
// thread and only keeps bytes a slow peer has not taken yet).
//
// Readiness, then non-blocking reads and writes until the source would
// block (up to 64 KiB a call; a TLS record at most), so a bulk transfer
// costs a few system calls per 64 KiB and no coroutine switches. TLS reads
// and writes the socket itself (TlsStream), so it takes the same path; only
// when TLS must write before it can read does a pooled buffer carry the
// chunk through async read and write.
// Either side closing (or an error, or `idle` without traffic) ends both.
//
// Included only by the session translation units (Asio heavy).

#include "lib/log/logger.hpp"
#include "lib/net/edge_wait.hpp"
#include "lib/net/socket_adopt.hpp"
#include "lib/proxy/connection_slot.hpp"
#include "lib/proxy/mail/kernel_relay.hpp"
#include "lib/proxy/mail/session.hpp"

#include <chrono>
#include <cstring>
#include <memory>
#include <type_traits>

namespace zmproxy::proxy::mail {

// What a session owes when it ends: the access-log line; and its place in
// the connection counters (the slot).
struct SessionEnd {
  std::shared_ptr<const Generation> shared;
  SessionInfo info;
  ConnectionSlot slot;

  void finish() {
    if (shared) {
      info.log_to(*shared->access_log);
      shared.reset();
    }
  }
};

namespace detail {

inline constexpr std::size_t k_relay_chunk = 64 * 1024;

// One read buffer per worker thread for the plain path; never held across
// an asynchronous operation.
inline char* thread_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[k_relay_chunk]);
  return buffer.get();
}

// Whether a write that would block leaves OpenSSL pointing at the caller's
// bytes (kTLS sending: no ciphertext copy of its own); those bytes must
// then stay put until the write is finished, so they cannot be in the
// thread's buffer.
inline bool writes_in_place(tcp::socket&) {
  return false;
}
inline bool writes_in_place(const TlsStream& s) {
  return s.ktls_send();
}

}  // namespace detail

template <class A, class B>
class Relay : public std::enable_shared_from_this<Relay<A, B>> {
 public:
  Relay(A client, B upstream, SessionEnd end, std::chrono::milliseconds idle)
      : m_client(std::move(client)),
        m_upstream(std::move(upstream)),
        m_end(std::move(end)),
        m_idle(idle),
        m_timer(lowest(m_client).get_executor()) {}

  ~Relay() { m_end.finish(); }

  void start() {
    // read_some/write_some must not block: the sockets are non-blocking
    // already (accept4, socket with SOCK_NONBLOCK); Asio is told so without
    // the ioctl its non_blocking(true) makes (lib/net/socket_adopt.hpp).
    boost::system::error_code ignored;
    net::set_user_non_blocking(lowest(m_client), ignored);
    net::set_user_non_blocking(lowest(m_upstream), ignored);
    m_last = Clock::now();
    wait(0);
    wait(1);
    arm_idle();
  }

 private:
  // Direction 0: client -> mailbox; 1: mailbox -> client.
  template <class F>
  void with(int d, F&& f) {
    if (d == 0) {
      f(m_client, m_upstream, m_end.info.bytes_in);
    } else {
      f(m_upstream, m_client, m_end.info.bytes_out);
    }
  }

  // `drained`: the source was just read dry (would_block): the wait need
  // not re-arm the descriptor
  // (net::async_wait_readable: no system call). Otherwise, and at the start,
  // Asio's wait, which re-arms it (EPOLL_CTL_MOD) and so reports bytes
  // already there.
  void wait(int d, bool drained = false) {
    if (m_stopped) {
      return;
    }
    with(d, [&](auto& from, auto&, std::uint64_t&) {
      if (has_pending(from)) {
        // TLS holds decrypted bytes: go on, from the event loop (not by
        // recursion, which a fast sender could drive arbitrarily deep).
        asio::post(lowest(from).get_executor(), [self = this->shared_from_this(), d] { self->readable(d); });
        return;
      }
      auto then = [self = this->shared_from_this(), d](boost::system::error_code ec) {
        if (ec) {
          self->stop();
        } else {
          self->readable(d);
        }
      };
      if (drained) {
        net::async_wait_readable(lowest(from), std::move(then));
      } else {
        lowest(from).async_wait(tcp::socket::wait_read, std::move(then));
      }
    });
  }

  void readable(int d) {
    if (m_stopped) {
      return;
    }
    with(d, [&](auto& from, auto& to, std::uint64_t& counter) { move_now(d, from, to, counter); });
  }

  template <class From, class To>
  void move_now(int d, From& from, To& to, std::uint64_t& counter) {
    char* buf = detail::thread_buffer();
    std::size_t size = detail::k_relay_chunk;
    net::detail::BufferPool::Buffer kept;  // kTLS sending: a buffer the write may keep
    if (detail::writes_in_place(to)) {
      kept = net::detail::BufferPool::acquire();
      buf = kept.get();
      size = net::detail::BufferPool::k_size;
    }
    bool drained = false;
    // At most 16 reads (1 MiB in plain) before waiting again, so one busy
    // session does not starve the others on this worker.
    for (int round = 0; round < 16; ++round) {
      boost::system::error_code ec;
      const std::size_t n = from.read_some(asio::buffer(buf, size), ec);
      if (ec == asio::error::would_block) {
        drained = true;
        break;
      }
      if (ec == asio::error::try_again) {
        release(std::move(kept));
        move_async(d, from, to, counter);  // TLS wants to write first
        return;
      }
      if (ec || n == 0) {
        release(std::move(kept));
        if (d == 1) {
          mailbox_failed(ec);
        }
        stop();
        return;
      }
      counter += n;
      m_last = Clock::now();
      std::size_t sent = to.write_some(asio::buffer(buf, n), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        sent = 0;
      } else if (ec) {
        release(std::move(kept));
        stop();
        return;
      }
      if (sent < n && kept) {
        // The same bytes, where OpenSSL still points, finish the write.
        const auto out = asio::buffer(buf + sent, n - sent);
        asio::async_write(to, out,
                          [self = this->shared_from_this(), d, kept = std::move(kept)](
                              boost::system::error_code wec, std::size_t) mutable {
                            net::detail::BufferPool::release(std::move(kept));
                            if (wec) {
                              self->stop();
                            } else {
                              self->wait(d);
                            }
                          });
        return;
      }
      if (sent < n) {
        // The peer is slow: keep the rest (and only the rest) until it drains.
        const std::size_t left = n - sent;
        std::unique_ptr<char[]> rest(new char[left]);
        std::memcpy(rest.get(), buf + sent, left);
        const auto out = asio::buffer(rest.get(), left);
        asio::async_write(to, out,
                          [self = this->shared_from_this(), d, rest = std::move(rest)](
                              boost::system::error_code wec, std::size_t) mutable {
                            rest.reset();
                            if (wec) {
                              self->stop();
                            } else {
                              self->wait(d);
                            }
                          });
        return;
      }
      // A read shorter than the buffer does not mean drained: a FIN that
      // came in the segment of the last bytes (or before the edge was
      // reported) is not returned with them and brings no edge of its own,
      // so only would_block (or the EOF) ends the round
      // (tests/adversarial/relay_eof_test.py).
    }
    release(std::move(kept));
    wait(d, drained);
  }

  static void release(net::detail::BufferPool::Buffer kept) {
    if (kept) {
      net::detail::BufferPool::release(std::move(kept));
    }
  }

  template <class From, class To>
  void move_async(int d, From& from, To& to, std::uint64_t& counter) {
    auto buf = net::detail::BufferPool::acquire();
    const auto in = asio::buffer(buf.get(), net::detail::BufferPool::k_size);
    from.async_read_some(
        in, [self = this->shared_from_this(), d, &to, &counter, buf = std::move(buf)](
                boost::system::error_code ec, std::size_t n) mutable {
          if (ec || n == 0 || self->m_stopped) {
            net::detail::BufferPool::release(std::move(buf));
            if (d == 1 && !self->m_stopped) {
              self->mailbox_failed(ec);
            }
            self->stop();
            return;
          }
          counter += n;
          self->m_last = Clock::now();
          const auto out = asio::buffer(buf.get(), n);
          asio::async_write(
              to, out,
              [self, d, buf = std::move(buf)](boost::system::error_code wec, std::size_t) mutable {
                net::detail::BufferPool::release(std::move(buf));
                if (wec) {
                  self->stop();
                } else {
                  self->wait(d);
                }
              });
        });
  }

  void arm_idle() {
    if (m_idle.count() <= 0) {
      return;
    }
    m_timer.expires_at(m_last + m_idle);
    m_timer.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (ec || self->m_stopped) {
        return;
      }
      if (Clock::now() >= self->m_last + self->m_idle) {
        self->m_end.info.outcome = "idle-timeout";
        self->stop();
      } else {
        self->arm_idle();
      }
    });
  }

  // The mailbox's side broke (a reset, not its close): one line naming it,
  // and the access log says so. The client's connection is closed: in the
  // middle of a response nothing more can be said to it.
  void mailbox_failed(const boost::system::error_code& ec) {
    if (!ec || ec == asio::error::eof || ec == asio::ssl::error::stream_truncated || m_stopped) {
      return;
    }
    m_end.info.outcome = "upstream-error";
    ZMPROXY_LOG(warn, "relay",
                "{} -> {}: the mailbox connection failed after login ({}); the client's is closed",
                m_end.info.client_ip, m_end.info.upstream, ec.message());
  }

  void stop() {
    if (m_stopped) {
      return;
    }
    m_stopped = true;
    boost::system::error_code ignored;
    lowest(m_client).close(ignored);
    lowest(m_upstream).close(ignored);
    m_timer.cancel();
  }

  A m_client;
  B m_upstream;
  SessionEnd m_end;
  std::chrono::milliseconds m_idle;
  Clock::time_point m_last{};
  asio::steady_timer m_timer;
  bool m_stopped = false;
};

// Move the two connections into a Relay and start it; the caller's
// coroutines may end right after.
template <class A, class B>
void hand_off(A&& client, B&& upstream, SessionEnd end, std::chrono::milliseconds idle) {
  if constexpr (std::is_same_v<std::decay_t<A>, tcp::socket> &&
                std::is_same_v<std::decay_t<B>, tcp::socket>) {
    if (kernel_hand_off(client, upstream, end, idle)) {
      return;  // the kernel relays it (kernel_relay.hpp)
    }
  }
  using RelayType = Relay<std::decay_t<A>, std::decay_t<B>>;
  auto relay =
      std::make_shared<RelayType>(std::move(client), std::move(upstream), std::move(end), idle);
  relay->start();
}

}  // namespace zmproxy::proxy::mail

#pragma once
// The post-login relay in the kernel (issue 18): both legs plaintext, the
// two sockets in the process's BPF sockhash (lib/net/sockmap_relay.hpp),
// each socket's bytes sent by the kernel straight to its peer. The proxy
// only watches:
// - EOF: the kernel does not forward FIN. A socket turns readable when its
//   peer closes (RCV_SHUTDOWN; data never wakes it, the verdict takes the
//   bytes first); TCP_INFO confirms it is no longer established. Then the
//   other socket must have taken every byte redirected to it (written into
//   it since insertion, TCP_INFO's bytes sent + not yet sent, >= the
//   program's count), checked at once and then at growing intervals for at
//   most k_kernel_drain; then both are closed, as the user-space relay
//   closes both on either side's EOF, and the kernel sends what the sockets
//   hold before their FIN. Waiting for the peer's acknowledgement as well
//   (tcpi_unacked == 0) cost a delayed ACK, 40-60 ms and eight timer
//   wake-ups per session, and protects nothing close() does not.
// - errors: the kernel stops sending to a socket for good after a failed
//   send (EPIPE, SO_ERROR); the pair is then ended.
// - idle: one timer a session; when it fires, TCP_INFO's
//   tcpi_last_data_recv of both sockets says how long ago data last came,
//   and it closes the session or waits out the rest.
// The access log's in= and out= are the program's byte counts.
//
// Included by relay.hpp, whose hand_off tries it first.

#include "lib/log/logger.hpp"
#include "lib/net/sockmap_relay.hpp"
#include "lib/net/sockmap_support.hpp"
#include "lib/proxy/mail/session.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

namespace zmproxy::proxy::mail {

// How long the proxy waits, after one side's EOF, for the bytes still on
// their way to the other side to be taken and acknowledged.
inline constexpr std::chrono::milliseconds k_kernel_drain{30'000};

// End: relay.hpp's SessionEnd (the access-log line and the slot).
template <class End>
class KernelRelay : public std::enable_shared_from_this<KernelRelay<End>> {
 public:
  KernelRelay(tcp::socket client,
              tcp::socket upstream,
              End end,
              std::chrono::milliseconds idle,
              net::SockmapRelay& maps,
              net::SockmapPair pair)
      : m_sockets{std::move(client), std::move(upstream)},
        m_end(std::move(end)),
        m_idle(idle),
        m_maps(maps),
        m_pair(pair),
        m_timer(m_sockets[0].get_executor()) {}

  ~KernelRelay() { finish(nullptr); }

  void start() {
    wait(0);
    wait(1);
    arm_idle(m_idle);
  }

 private:
  // Side 0: the client; 1: the mailbox.
  void wait(int side) {
    m_sockets[side].async_wait(tcp::socket::wait_read, [self = this->shared_from_this(),
                                                        side](boost::system::error_code ec) {
      if (self->m_stopped) {
        return;
      }
      if (ec) {
        self->finish(nullptr);
      } else {
        self->readable(side);
      }
    });
  }

  void readable(int side) {
    if (m_eof_side >= 0) {
      return;  // draining already: the drain's checks end it
    }
    const int fd = m_sockets[side].native_handle();
    auto now = net::SockmapRelay::progress(fd);
    if (now && !now->eof) {
      // Still established: woken by an error (the kernel stopped sending
      // to it, EPIPE) — the pair is broken, end it — or by nothing.
      if (net::SockmapRelay::socket_error(fd) != 0) {
        finish(nullptr);
      } else {
        wait(side);
      }
      return;
    }
    m_eof_side = side;
    m_drain_until = Clock::now() + k_kernel_drain;
    m_timer.cancel();
    check_drained(std::chrono::milliseconds(1));
  }

  // Everything redirected from the side that ended has been written into
  // the other socket: close both (close() still sends what a socket holds,
  // then its FIN, as after the user-space relay's last write; only bytes
  // still queued in the kernel relay would be lost). Else look again later.
  void check_drained(std::chrono::milliseconds next) {
    const int other = 1 - m_eof_side;
    auto now = net::SockmapRelay::progress(m_sockets[other].native_handle());
    const bool taken =
        now && now->written - m_pair.written_before[other] >= m_maps.redirected(m_pair, m_eof_side);
    if (!now || now->eof || taken || Clock::now() >= m_drain_until) {
      finish(nullptr);
      return;
    }
    if (next > std::chrono::milliseconds(1) &&
        net::SockmapRelay::socket_error(m_sockets[other].native_handle()) != 0) {
      finish(nullptr);  // the kernel stopped sending to it: nothing more will arrive
      return;
    }
    m_timer.expires_after(next);
    m_timer.async_wait([self = this->shared_from_this(), next](boost::system::error_code ec) {
      if (!ec && !self->m_stopped) {
        self->check_drained(std::min(next * 2, std::chrono::milliseconds(200)));
      }
    });
  }

  void arm_idle(std::chrono::milliseconds after) {
    if (m_idle.count() <= 0) {
      return;
    }
    m_timer.expires_after(after);
    m_timer.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (ec || self->m_stopped || self->m_eof_side >= 0) {
        return;
      }
      self->check_idle();
    });
  }

  void check_idle() {
    auto a = net::SockmapRelay::progress(m_sockets[0].native_handle());
    auto b = net::SockmapRelay::progress(m_sockets[1].native_handle());
    if (!a || !b) {
      finish(nullptr);
      return;
    }
    const std::chrono::milliseconds quiet(std::min(a->idle_ms, b->idle_ms));
    if (quiet >= m_idle) {
      finish("idle-timeout");
    } else {
      arm_idle(m_idle - quiet);
    }
  }

  void finish(const char* outcome) {
    if (m_stopped) {
      return;
    }
    m_stopped = true;
    const std::uint64_t in = m_maps.redirected(m_pair, 0);
    const std::uint64_t out = m_maps.redirected(m_pair, 1);
    m_maps.remove(m_pair);
    boost::system::error_code ignored;
    m_sockets[0].close(ignored);
    m_sockets[1].close(ignored);
    m_timer.cancel();
    m_end.info.bytes_in += in;
    m_end.info.bytes_out += out;
    if (outcome != nullptr) {
      m_end.info.outcome = outcome;
    }
    m_end.finish();
  }

  tcp::socket m_sockets[2];
  End m_end;
  std::chrono::milliseconds m_idle;
  net::SockmapRelay& m_maps;
  net::SockmapPair m_pair;
  asio::steady_timer m_timer;
  int m_eof_side = -1;
  Clock::time_point m_drain_until{};
  bool m_stopped = false;
};

// hand_off's first try (relay.hpp), for two plain sockets: true when the
// kernel relays the session now, or when inserting broke it (then it is
// closed and logged); false: relay it in user space. Everything the session
// buffered in user space has been written before the hand-off (login_at).
template <class End>
bool kernel_hand_off(tcp::socket& client,
                     tcp::socket& upstream,
                     End& end,
                     std::chrono::milliseconds idle) {
  net::SockmapRelay* maps = end.shared ? end.shared->kernel_relay : nullptr;
  const auto state = maps != nullptr ? net::KernelRelayState::ready : net::KernelRelayState::off;
  if (!net::use_kernel_relay(state, /*client_plain=*/true, /*upstream_plain=*/true)) {
    return false;
  }
  auto pair = maps->insert(client.native_handle(), upstream.native_handle());
  if (!pair) {
    if (pair.error().code == Errc::unavailable) {
      ZMPROXY_LOG(debug, "relay", "{}: relayed in user space: {}", end.info.client_ip,
                  pair.error().message);
      return false;
    }
    ZMPROXY_LOG(warn, "relay", "{}: closed: {}", end.info.client_ip, pair.error().message);
    boost::system::error_code ignored;
    client.close(ignored);
    upstream.close(ignored);
    end.info.outcome = "error";
    end.finish();
    return true;
  }
  auto relay = std::make_shared<KernelRelay<End>>(std::move(client), std::move(upstream),
                                                  std::move(end), idle, *maps, *pair);
  relay->start();
  return true;
}

}  // namespace zmproxy::proxy::mail

#pragma once
// The kernel relay (issue 18): a BPF sockhash and an sk_skb stream verdict
// (lib/net/bpf/sockmap_relay.bpf.c) that move a plaintext session's bytes
// from each socket straight to its peer's transmit queue, without waking
// the proxy. Loaded once per process while it is still root (the program
// and the maps need CAP_BPF and CAP_NET_ADMIN); after that, inserting a
// socket needs only the map's descriptor, which the process keeps.
//
// The kernel forwards bytes, not FIN: the proxy still waits for each
// socket's EOF (readable with RCV_SHUTDOWN), then for the peer to have
// taken and acknowledged every byte redirected to it (TCP_INFO), and only
// then closes both (lib/proxy/mail/kernel_relay.hpp).
//
// Built only with ZMPROXY_KERNEL_RELAY (clang, bpftool and libbpf found at
// configure time); without it load() says "not built".

#include "lib/core/result.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace zmproxy::net {

// One relayed pair: the sockets' keys and counters, and what had been
// written into each before the kernel took over.
struct SockmapPair {
  std::uint64_t cookie[2]{};
  std::uint32_t slot[2]{};
  std::uint64_t written_before[2]{};  // bytes written into socket i before insertion
};

// What TCP_INFO says of one relayed socket.
struct SocketProgress {
  bool eof = false;           // no longer established: FIN received, reset or closed
  std::uint64_t written = 0;  // bytes written into it so far (sent once + not sent yet)
  bool all_acked = false;     // nothing unsent, nothing unacknowledged (tcpi_unacked, notsent)
  std::uint32_t idle_ms = 0;  // since data last arrived on it (tcpi_last_data_recv)
};

class SockmapRelay {
 public:
  // The program loaded and attached, the counters mapped, and a self-test
  // over loopback passed (bytes both ways, bytes queued before insertion,
  // the FIN seen, the counts right). The error says why not, in one line.
  static Result<std::unique_ptr<SockmapRelay>> load();
  ~SockmapRelay();
  SockmapRelay(const SockmapRelay&) = delete;
  SockmapRelay& operator=(const SockmapRelay&) = delete;

  // From now on a's bytes go to b and b's to a, including what their
  // receive queues already hold; the callers have written everything
  // buffered in user space first. Errc::unavailable: nothing changed,
  // relay in user space; any other error: the pair is broken, close it.
  Result<SockmapPair> insert(int a, int b);
  // Bytes redirected so far from socket `side` (0: a, 1: b) to the other.
  std::uint64_t redirected(const SockmapPair& p, int side) const noexcept;
  // Stop redirecting (before the caller closes both sockets).
  void remove(const SockmapPair& p) noexcept;
  // Pairs relayed now, and inserted since load (the self-test's not counted).
  std::uint64_t pairs() const noexcept;
  std::uint64_t relayed() const noexcept;

  static Result<SocketProgress> progress(int fd);
  // The socket's pending error (SO_ERROR, which clears it); 0: none.
  static int socket_error(int fd) noexcept;

  struct Impl;

 private:
  explicit SockmapRelay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

// The build has the kernel relay (the BPF toolchain was found).
bool sockmap_built() noexcept;

}  // namespace zmproxy::net

#include "lib/net/sockmap_relay.hpp"

#include <poll.h>
#include <unistd.h>

#include "lib/net/sockmap_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>

// After <netinet/in.h>; the kernel's tcp_info (glibc's lacks the byte counts).
#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <linux/tcp.h>
#include <mutex>
#include <string>

#if ZMPROXY_HAVE_SOCKMAP
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wcast-align"
#include "lib/net/sockmap_relay.skel.h"
#pragma GCC diagnostic pop
#endif

namespace zmproxy::net {

namespace {

constexpr std::uint8_t k_tcp_established = 1;  // tcpi_state (include/net/tcp_states.h)

std::string errno_text(int e) {
  return std::strerror(e);
}

}  // namespace

Result<SocketProgress> SockmapRelay::progress(int fd) {
  struct tcp_info ti {};
  socklen_t len = sizeof ti;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) {
    return fail(Errc::io_error, "TCP_INFO: " + errno_text(errno));
  }
  SocketProgress p;
  p.eof = ti.tcpi_state != k_tcp_established;
  p.written = ti.tcpi_bytes_sent - ti.tcpi_bytes_retrans + ti.tcpi_notsent_bytes;
  p.all_acked = ti.tcpi_unacked == 0 && ti.tcpi_notsent_bytes == 0;
  p.idle_ms = ti.tcpi_last_data_recv;
  return p;
}

int SockmapRelay::socket_error(int fd) noexcept {
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) {
    return errno;
  }
  return error;
}

#if ZMPROXY_HAVE_SOCKMAP

namespace {

constexpr std::uint32_t k_slots = 65536;  // RELAY_SOCKETS in the program

struct PeerValue {  // struct peer in the program
  std::uint64_t cookie;
  std::uint32_t slot;
  std::uint32_t pad;
};

Result<std::uint64_t> socket_cookie(int fd) {
  std::uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) {
    return fail(Errc::unavailable, "SO_COOKIE: " + errno_text(errno));
  }
  return cookie;
}

int no_print(enum libbpf_print_level, const char*, va_list) {
  return 0;
}

}  // namespace

struct SockmapRelay::Impl {
  sockmap_relay* skel = nullptr;
  int socks = -1;
  int targets = -1;
  int peers = -1;
  std::uint64_t* counts = nullptr;  // the counts map, mmapped
  std::size_t counts_bytes = 0;
  std::mutex mutex;                 // slots
  std::uint32_t fresh = 0;          // slots below this were handed out once
  std::deque<std::uint32_t> freed;  // reused oldest first
  std::atomic<std::uint64_t> pairs{0};
  std::atomic<std::uint64_t> relayed{0};

  ~Impl() {
    if (counts != nullptr) {
      ::munmap(counts, counts_bytes);
    }
    if (skel != nullptr) {
      sockmap_relay::destroy(skel);
    }
  }

  bool take_slots(std::uint32_t (&out)[2]) {
    std::lock_guard lock(mutex);
    for (std::uint32_t& s : out) {
      if (!freed.empty()) {
        s = freed.front();
        freed.pop_front();
      } else if (fresh < k_slots) {
        s = fresh++;
      } else {
        if (&s != &out[0]) {
          freed.push_back(out[0]);
        }
        return false;
      }
    }
    return true;
  }

  void give_slots(const std::uint32_t (&slots)[2]) {
    std::lock_guard lock(mutex);
    freed.push_back(slots[0]);
    freed.push_back(slots[1]);
  }

  void forget_peers(const std::uint64_t (&cookies)[2]) const {
    for (const std::uint64_t& c : cookies) {
      bpf_map_delete_elem(peers, &c);
    }
  }
};

SockmapRelay::SockmapRelay(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
SockmapRelay::~SockmapRelay() = default;

bool sockmap_built() noexcept {
  return true;
}

namespace {

// Loopback pairs for the self-test: ends[i] talks to middles[i].
struct TestSockets {
  int listener = -1;
  int ends[2] = {-1, -1};
  int middles[2] = {-1, -1};
  ~TestSockets() {
    for (int fd : {listener, ends[0], ends[1], middles[0], middles[1]}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }
};

Result<void> make_test_sockets(TestSockets& t) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  t.listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (t.listener < 0 || ::bind(t.listener, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      ::listen(t.listener, 2) != 0 ||
      ::getsockname(t.listener, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return fail(Errc::unavailable, "a loopback listener: " + errno_text(errno));
  }
  for (int i = 0; i < 2; ++i) {
    t.ends[i] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t.ends[i] < 0 || ::connect(t.ends[i], reinterpret_cast<sockaddr*>(&a), len) != 0) {
      return fail(Errc::unavailable, "a loopback connection: " + errno_text(errno));
    }
    t.middles[i] = ::accept4(t.listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (t.middles[i] < 0) {
      return fail(Errc::unavailable, "a loopback accept: " + errno_text(errno));
    }
  }
  return {};
}

// Reads exactly `want` from fd within a second.
bool read_within(int fd, std::string_view want) {
  std::string got;
  while (got.size() < want.size()) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) {
      return false;
    }
    char buf[64];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) {
      return false;
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got == want;
}

Result<void> self_test(SockmapRelay& relay) {
  if (const char* forced = std::getenv("ZMPROXY_TEST_KERNEL_RELAY_FAIL"); forced && *forced) {
    return fail(Errc::unavailable,
                "the self-test was made to fail (ZMPROXY_TEST_KERNEL_RELAY_FAIL, tests only)");
  }
  TestSockets t;
  if (auto ok = make_test_sockets(t); !ok) {
    return ok;
  }
  // Bytes that arrive before insertion are relayed too.
  if (::send(t.ends[0], "early", 5, 0) != 5) {
    return fail(Errc::unavailable, "self-test send: " + errno_text(errno));
  }
  pollfd queued{t.middles[0], POLLIN, 0};
  ::poll(&queued, 1, 1000);
  auto pair = relay.insert(t.middles[0], t.middles[1]);
  if (!pair) {
    return tl::unexpected(pair.error());
  }
  const auto undo = [&](std::string why) -> Result<void> {
    relay.remove(*pair);
    return fail(Errc::unavailable, "self-test: " + why);
  };
  if (!read_within(t.ends[1], "early")) {
    return undo("bytes queued before insertion were not relayed");
  }
  if (::send(t.ends[1], "pong", 4, 0) != 4 || !read_within(t.ends[0], "pong")) {
    return undo("bytes were not relayed back");
  }
  if (relay.redirected(*pair, 0) != 5 || relay.redirected(*pair, 1) != 4) {
    return undo(fmt::format("counted {} and {} bytes, not 5 and 4", relay.redirected(*pair, 0),
                            relay.redirected(*pair, 1)));
  }
  // The FIN is not relayed, but wakes the proxy.
  ::shutdown(t.ends[0], SHUT_WR);
  pollfd fin{t.middles[0], POLLIN | POLLRDHUP, 0};
  if (::poll(&fin, 1, 1000) != 1 || (fin.revents & POLLRDHUP) == 0) {
    return undo("a FIN did not make the socket readable");
  }
  // The bare FIN must not reach the peer's transmit path (a send of zero
  // bytes fails there and stops it for good: POLLERR, EPIPE).
  pollfd broken{t.middles[1], POLLERR, 0};
  if (::poll(&broken, 1, 100) != 0) {
    return undo("the peer of a half-closed socket stopped sending (a relayed FIN)");
  }
  auto from = SockmapRelay::progress(t.middles[0]);
  auto to = SockmapRelay::progress(t.middles[1]);
  if (!from || !to || !from->eof || to->written - pair->written_before[1] != 5) {
    return undo("TCP_INFO does not show the FIN and the relayed bytes");
  }
  relay.remove(*pair);
  return {};
}

}  // namespace

Result<std::unique_ptr<SockmapRelay>> SockmapRelay::load() {
  utsname u{};
  ::uname(&u);
  if (std::string why = kernel_refusal(u.release); !why.empty()) {
    return fail(Errc::unavailable, why);
  }
  libbpf_set_print(no_print);
  auto impl = std::make_unique<Impl>();
  impl->skel = sockmap_relay::open_and_load();
  if (impl->skel == nullptr) {
    const int e = errno;
    return fail(Errc::unavailable,
                fmt::format("cannot load the BPF program: {}{}", errno_text(e),
                            e == EPERM ? " (loading needs root: CAP_BPF and CAP_NET_ADMIN)" : ""));
  }
  impl->socks = bpf_map__fd(impl->skel->maps.socks);
  impl->targets = bpf_map__fd(impl->skel->maps.targets);
  impl->peers = bpf_map__fd(impl->skel->maps.peers);
  if (bpf_prog_attach(bpf_program__fd(impl->skel->progs.relay_verdict), impl->socks,
                      BPF_SK_SKB_STREAM_VERDICT, 0) != 0) {
    return fail(Errc::unavailable, "cannot attach the stream verdict: " + errno_text(errno));
  }
  impl->counts_bytes = k_slots * sizeof(std::uint64_t);
  void* counts = ::mmap(nullptr, impl->counts_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                        bpf_map__fd(impl->skel->maps.counts), 0);
  if (counts == MAP_FAILED) {
    return fail(Errc::unavailable, "cannot map the byte counters: " + errno_text(errno));
  }
  impl->counts = static_cast<std::uint64_t*>(counts);
  std::unique_ptr<SockmapRelay> relay(new SockmapRelay(std::move(impl)));
  if (auto ok = self_test(*relay); !ok) {
    return tl::unexpected(ok.error());
  }
  relay->m_impl->relayed.store(0, std::memory_order_relaxed);
  return relay;
}

Result<SockmapPair> SockmapRelay::insert(int a, int b) {
  Impl& m = *m_impl;
  SockmapPair p;
  if (!m.take_slots(p.slot)) {
    return fail(Errc::unavailable, "every kernel relay slot is in use");
  }
  const int fds[2] = {a, b};
  for (int i = 0; i < 2; ++i) {
    auto cookie = socket_cookie(fds[i]);
    auto now = progress(fds[i]);
    if (!cookie || !now) {
      m.give_slots(p.slot);
      return fail(Errc::unavailable, !cookie ? cookie.error().message : now.error().message);
    }
    p.cookie[i] = *cookie;
    p.written_before[i] = now->written;
    std::atomic_ref<std::uint64_t>(m.counts[p.slot[i]]).store(0, std::memory_order_relaxed);
  }
  std::uint64_t keys[2] = {p.cookie[0], p.cookie[1]};
  PeerValue values[2] = {{p.cookie[1], p.slot[0], 0}, {p.cookie[0], p.slot[1], 0}};
  std::uint32_t count = 2;
  if (bpf_map_update_batch(m.peers, keys, values, &count, nullptr) != 0) {
    const std::string why = "the kernel relay's peer map: " + errno_text(errno);
    m.forget_peers(p.cookie);
    m.give_slots(p.slot);
    return fail(Errc::unavailable, why);
  }
  // Both become redirect targets first, then both get the verdict: a byte
  // arriving on the first never finds its peer missing (dropped).
  int done = 0;  // updates made, targets then socks
  for (const int map : {m.targets, m.socks}) {
    for (int i = 0; i < 2; ++i) {
      const std::uint32_t fd = static_cast<std::uint32_t>(fds[i]);
      if (bpf_map_update_elem(map, &p.cookie[i], &fd, BPF_NOEXIST) != 0) {
        const std::string why = "the kernel relay's socket maps: " + errno_text(errno);
        for (const int undo : {m.socks, m.targets}) {
          bpf_map_delete_elem(undo, &p.cookie[0]);
          bpf_map_delete_elem(undo, &p.cookie[1]);
        }
        m.forget_peers(p.cookie);
        m.give_slots(p.slot);
        // Once the first has the verdict its bytes went to the other: not undone.
        return fail(done < 3 ? Errc::unavailable : Errc::io_error, why);
      }
      ++done;
    }
  }
  // Bytes that came before insertion wait in the receive queue for the
  // next data-ready; setting SO_RCVLOWAT signals one now (tcp_set_rcvlowat).
  const int one = 1;
  for (int fd : fds) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
  }
  m.pairs.fetch_add(1, std::memory_order_relaxed);
  m.relayed.fetch_add(1, std::memory_order_relaxed);
  return p;
}

std::uint64_t SockmapRelay::redirected(const SockmapPair& p, int side) const noexcept {
  return std::atomic_ref<std::uint64_t>(m_impl->counts[p.slot[side]])
      .load(std::memory_order_relaxed);
}

void SockmapRelay::remove(const SockmapPair& p) noexcept {
  Impl& m = *m_impl;
  std::uint64_t keys[2] = {p.cookie[0], p.cookie[1]};
  std::uint32_t count = 2;
  if (bpf_map_delete_batch(m.peers, keys, &count, nullptr) != 0) {
    m.forget_peers(p.cookie);
  }
  // The sockets leave both socket maps when they are closed (sock_map_close).
  m.give_slots(p.slot);
  m.pairs.fetch_sub(1, std::memory_order_relaxed);
}

std::uint64_t SockmapRelay::pairs() const noexcept {
  return m_impl->pairs.load(std::memory_order_relaxed);
}

std::uint64_t SockmapRelay::relayed() const noexcept {
  return m_impl->relayed.load(std::memory_order_relaxed);
}

#else  // no BPF toolchain at configure time

struct SockmapRelay::Impl {};

SockmapRelay::SockmapRelay(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
SockmapRelay::~SockmapRelay() = default;

bool sockmap_built() noexcept {
  return false;
}

Result<std::unique_ptr<SockmapRelay>> SockmapRelay::load() {
  return fail(Errc::unavailable,
              "not built (clang, bpftool or libbpf-dev missing at configure time)");
}

Result<SockmapPair> SockmapRelay::insert(int, int) {
  return fail(Errc::unavailable, "not built");
}

std::uint64_t SockmapRelay::redirected(const SockmapPair&, int) const noexcept {
  return 0;
}

void SockmapRelay::remove(const SockmapPair&) noexcept {}

std::uint64_t SockmapRelay::pairs() const noexcept {
  return 0;
}

std::uint64_t SockmapRelay::relayed() const noexcept {
  return 0;
}

#endif

}  // namespace zmproxy::net

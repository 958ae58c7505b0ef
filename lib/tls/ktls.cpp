#include "lib/tls/ktls.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace zmproxy::tls {

namespace {

#ifndef SOL_TLS
constexpr int SOL_TLS = 282;
#endif

// Closes the descriptors it was given.
struct Fds {
  int fd[3] = {-1, -1, -1};
  ~Fds() {
    for (int f : fd) {
      if (f >= 0) {
        ::close(f);
      }
    }
  }
};

bool ulp_listed() {
  std::ifstream in("/proc/sys/net/ipv4/tcp_available_ulp");
  std::string word;
  while (in >> word) {
    if (word == "tls") {
      return true;
    }
  }
  return false;
}

const char* k_no_ulp =
    "the kernel has no TLS ULP (CONFIG_TLS not set, or the tls module not loaded: modprobe tls)";

std::string failure(const char* step, int err) {
  return std::string(step) + ": " + std::strerror(err);
}

// A connected loopback pair (listener, client, server side).
bool connect_pair(Fds& fds, std::string& why) {
  fds.fd[0] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  fds.fd[1] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fds.fd[0] < 0 || fds.fd[1] < 0) {
    why = failure("socket", errno);
    return false;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fds.fd[0], reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fds.fd[0], 1) != 0 ||
      ::getsockname(fds.fd[0], reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
      ::connect(fds.fd[1], reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    why = failure("a loopback connection", errno);
    return false;
  }
  fds.fd[2] = ::accept4(fds.fd[0], nullptr, nullptr, SOCK_CLOEXEC);
  if (fds.fd[2] < 0) {
    why = failure("accept", errno);
    return false;
  }
  return true;
}

}  // namespace

KernelTls probe_kernel_tls(bool try_socket) {
  KernelTls k;
  if (!try_socket) {
    k.available = ulp_listed();
    if (!k.available) {
      k.why = k_no_ulp;
    }
    return k;
  }
  Fds fds;
  if (!connect_pair(fds, k.why)) {
    return k;
  }
  static constexpr char k_ulp[] = "tls";
  if (::setsockopt(fds.fd[1], IPPROTO_TCP, TCP_ULP, k_ulp, sizeof k_ulp - 1) != 0) {
    k.why = errno == ENOENT ? std::string(k_no_ulp) : failure("setsockopt TCP_ULP tls", errno);
    return k;
  }
  tls12_crypto_info_aes_gcm_128 key{};
  key.info.version = TLS_1_2_VERSION;
  key.info.cipher_type = TLS_CIPHER_AES_GCM_128;
  if (::setsockopt(fds.fd[1], SOL_TLS, TLS_TX, &key, sizeof key) != 0) {
    k.why = "the kernel's TLS cannot send with AES-GCM (" + failure("setsockopt TLS_TX", errno) +
            "; is the gcm crypto module there?)";
    return k;
  }
  k.available = true;
  return k;
}

std::string ktls_start_line(bool wanted, const KernelTls& kernel) {
  if (!wanted) {
    return kernel.available
               ? "kTLS off (tls.ktls = false); the kernel could do it"
               : "kTLS off (tls.ktls = false); the kernel could not either: " + kernel.why;
  }
  if (kernel.available) {
    return "kTLS on: the kernel encrypts TLS 1.2 and 1.3 records once a handshake is done "
           "(and decrypts TLS 1.2); STATUS counts the connections (ktls_send, ktls_recv)";
  }
  return "kTLS asked for (tls.ktls = true) but not available, TLS stays in OpenSSL: " + kernel.why;
}

namespace {
// 0 unknown, 1 the kernel can, 2 it cannot.
std::atomic<int> g_kernel{0};
}  // namespace

void remember_kernel_tls(bool available) {
  g_kernel.store(available ? 1 : 2, std::memory_order_relaxed);
}

void set_ktls(SSL_CTX* ctx, bool on) {
  if (on && g_kernel.load(std::memory_order_relaxed) != 2) {
    SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
  } else {
    SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_KTLS);
  }
}

}  // namespace zmproxy::tls

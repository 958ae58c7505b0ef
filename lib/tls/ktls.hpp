#pragma once
// Kernel TLS (kTLS): OpenSSL hands a connection's record encryption (and,
// for TLS 1.2, decryption) to the kernel after the handshake when the
// context has SSL_OP_ENABLE_KTLS and the kernel has the "tls" TCP ULP
// (CONFIG_TLS). Debian 12's OpenSSL 3.0 does TLS 1.2 both ways and TLS 1.3
// sending only; the SSL object stays and every read and write still goes
// through it. Off by default (tls.ktls, localconfig zmproxy_ktls).

#include <openssl/ssl.h>

#include <string>

namespace zmproxy::tls {

// What the kernel can do, found once at start.
struct KernelTls {
  bool available = false;
  std::string why;  // when not available: what is missing, and the fix
};

// With `try_socket`, a loopback TCP connection asks for the "tls" ULP and
// a TLS 1.2 AES-GCM send key (as root this may load the tls module, as
// OpenSSL's own request would not as the service user); without, only
// /proc/sys/net/ipv4/tcp_available_ulp is read (nothing is loaded).
KernelTls probe_kernel_tls(bool try_socket);

// The one start-up line: whether kTLS is asked for and whether the kernel
// can do it.
std::string ktls_start_line(bool wanted, const KernelTls& kernel);

// SSL_OP_ENABLE_KTLS on or off on a context (server or mailbox side). Left
// off where the start-up probe (remember_kernel_tls) found the kernel
// cannot: OpenSSL would otherwise try two setsockopt calls per connection
// and fail both.
void set_ktls(SSL_CTX* ctx, bool on);

// The start-up probe's finding, for every context made after it (unknown
// until then: the setting is taken as it is).
void remember_kernel_tls(bool available);

}  // namespace zmproxy::tls

#pragma once
// The kernel relay's pure decisions (issue 18): which kernels can carry it,
// and whether one session goes to it. No system call here; the loading and
// the maps are lib/net/sockmap_relay.cpp.

#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::net {

struct KernelVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  auto operator<=>(const KernelVersion&) const = default;
};

// The oldest kernel the relay trusts: 6.1.142 has the sockmap fixes for FIN
// handling, stalls and data lost on a retried send (uname's release,
// compared as numbers).
inline constexpr KernelVersion k_sockmap_oldest_kernel{6, 1, 142};

// "6.1.142-amd64", "6.18.0-1-cloud-amd64", "5.10" -> the numbers; nullopt
// when it does not start with "major.minor".
std::optional<KernelVersion> parse_kernel_release(std::string_view release);

// "" when `release` may carry the relay, else why not (one line).
std::string kernel_refusal(std::string_view release);

// What the kernel relay is in this process (STATUS's kernel_relay.state).
enum class KernelRelayState {
  not_built,    // the build had no BPF toolchain (ZMPROXY_KERNEL_RELAY off)
  off,          // server.kernel_relay is false (the default)
  unavailable,  // on, but the kernel lacks it, is too old, refused, or the self-test failed
  ready,        // on, loaded and self-tested: plain sessions use it
};
const char* state_name(KernelRelayState s) noexcept;

// A session's hand-off goes to the kernel relay: it is ready and both legs
// are plaintext (a TLS leg's bytes must pass through OpenSSL in user space).
constexpr bool use_kernel_relay(KernelRelayState s,
                                bool client_plain,
                                bool upstream_plain) noexcept {
  return s == KernelRelayState::ready && client_plain && upstream_plain;
}

}  // namespace zmproxy::net

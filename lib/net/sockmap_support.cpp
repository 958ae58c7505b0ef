#include "lib/net/sockmap_support.hpp"

#include <fmt/format.h>

#include <charconv>

namespace zmproxy::net {

namespace {

// A number at the front of `s`, consumed; nullopt when there is none.
std::optional<int> take_number(std::string_view& s) {
  int value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end == s.data()) {
    return std::nullopt;
  }
  s.remove_prefix(static_cast<std::size_t>(end - s.data()));
  return value;
}

}  // namespace

std::optional<KernelVersion> parse_kernel_release(std::string_view release) {
  KernelVersion v;
  std::string_view rest = release;
  const auto major = take_number(rest);
  if (!major || rest.empty() || rest.front() != '.') {
    return std::nullopt;
  }
  rest.remove_prefix(1);
  const auto minor = take_number(rest);
  if (!minor) {
    return std::nullopt;
  }
  v.major = *major;
  v.minor = *minor;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    if (const auto patch = take_number(rest)) {
      v.patch = *patch;
    }
  }
  return v;
}

std::string kernel_refusal(std::string_view release) {
  const auto v = parse_kernel_release(release);
  if (!v) {
    return fmt::format("kernel release \"{}\" is not major.minor[.patch]", release);
  }
  if (*v < k_sockmap_oldest_kernel) {
    return fmt::format(
        "kernel {} is older than {}.{}.{}, which has the sockmap fixes (FIN handling, stalls, data "
        "lost on retry); upgrade the kernel",
        release, k_sockmap_oldest_kernel.major, k_sockmap_oldest_kernel.minor,
        k_sockmap_oldest_kernel.patch);
  }
  return {};
}

const char* state_name(KernelRelayState s) noexcept {
  switch (s) {
    case KernelRelayState::not_built:
      return "not built";
    case KernelRelayState::off:
      return "off";
    case KernelRelayState::unavailable:
      return "unavailable";
    case KernelRelayState::ready:
      return "ready";
  }
  return "unknown";
}

}  // namespace zmproxy::net

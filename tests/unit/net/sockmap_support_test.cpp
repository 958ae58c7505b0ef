#include "lib/net/sockmap_support.hpp"

#include "lib/net/sockmap_relay.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::net;

TEST_CASE("kernel releases parse as major.minor.patch, suffixes ignored", "[net][sockmap]") {
  CHECK(parse_kernel_release("6.1.142-amd64") == KernelVersion{6, 1, 142});
  CHECK(parse_kernel_release("6.18.0-1-cloud-amd64") == KernelVersion{6, 18, 0});
  CHECK(parse_kernel_release("6.12.9") == KernelVersion{6, 12, 9});
  CHECK(parse_kernel_release("5.10") == KernelVersion{5, 10, 0});
  CHECK(parse_kernel_release("6.8.0-rc3") == KernelVersion{6, 8, 0});
  CHECK_FALSE(parse_kernel_release(""));
  CHECK_FALSE(parse_kernel_release("6"));
  CHECK_FALSE(parse_kernel_release("linux-6.1"));
  CHECK_FALSE(parse_kernel_release("6.x.1"));
}

TEST_CASE("kernels older than 6.1.142 are refused, with the reason", "[net][sockmap]") {
  CHECK(kernel_refusal("6.1.142-amd64").empty());
  CHECK(kernel_refusal("6.1.143").empty());
  CHECK(kernel_refusal("6.2.0").empty());
  CHECK(kernel_refusal("6.18.0-1-cloud-amd64").empty());
  CHECK(kernel_refusal("7.0").empty());
  const std::string old = kernel_refusal("6.1.141-amd64");
  CHECK(old.find("older than 6.1.142") != std::string::npos);
  CHECK(old.find("upgrade") != std::string::npos);
  CHECK_FALSE(kernel_refusal("5.15.0").empty());
  CHECK_FALSE(kernel_refusal("6.0.19").empty());
  CHECK(kernel_refusal("weird").find("not major.minor") != std::string::npos);
}

TEST_CASE("only a ready kernel relay takes a session, and only plain on both legs",
          "[net][sockmap]") {
  CHECK(use_kernel_relay(KernelRelayState::ready, true, true));
  CHECK_FALSE(use_kernel_relay(KernelRelayState::ready, false, true));
  CHECK_FALSE(use_kernel_relay(KernelRelayState::ready, true, false));
  CHECK_FALSE(use_kernel_relay(KernelRelayState::off, true, true));
  CHECK_FALSE(use_kernel_relay(KernelRelayState::unavailable, true, true));
  CHECK_FALSE(use_kernel_relay(KernelRelayState::not_built, true, true));
  CHECK(std::string(state_name(KernelRelayState::not_built)) == "not built");
  CHECK(std::string(state_name(KernelRelayState::ready)) == "ready");
}

TEST_CASE("TCP_INFO progress of a fresh loopback socket", "[net][sockmap]") {
  // An unconnected descriptor is not a TCP socket: an error, not a crash.
  CHECK_FALSE(SockmapRelay::progress(-1));
}

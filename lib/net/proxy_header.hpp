#pragma once
// The PROXY protocol header (HAProxy's doc/proxy-protocol.txt, versions 1
// and 2) that a balancer sends before its client's first byte: parsed from
// the bytes seen so far (pure, incremental, bounded, fuzzed), and the
// version 2 header zmproxyd sends to a mailbox that accepts one. No Asio:
// lib/net/proxy_header_read.* reads a socket, this decides.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace zmproxy::net {

// A version 1 line with its CRLF is at most 107 bytes (the spec's worst
// case); a version 2 header (16 bytes, the address block, TLVs) at most this
// many here: a balancer's TLVs (AWS's VPC endpoint, a client certificate)
// fit, and nothing larger is waited for.
inline constexpr std::size_t k_proxy_v1_max = 107;
inline constexpr std::size_t k_proxy_header_max = 4096;

struct ProxyEndpoint {
  bool ipv6 = false;
  std::array<std::uint8_t, 16> address{};  // network order; IPv4 in the first 4 bytes
  std::uint16_t port = 0;

  bool operator==(const ProxyEndpoint&) const = default;
};

enum class ProxyParse {
  need_more,  // every byte so far belongs to a header not yet complete
  complete,
  invalid,
};

enum class ProxySource {
  proxied,  // the header names the client: `client`
  local,    // version 2 LOCAL (the balancer's own health check): the peer is the client
  unknown,  // version 1 UNKNOWN, version 2 UNSPEC or AF_UNIX: the peer is the client
};

struct ProxyHeader {
  ProxyParse status = ProxyParse::need_more;
  int version = 0;          // 1 or 2 once the first byte is seen
  std::size_t length = 0;   // complete: the header's bytes, to consume and no more
  ProxySource source = ProxySource::unknown;
  ProxyEndpoint client;     // proxied: the client's address and port
  std::string_view reason;  // invalid: why, a static phrase for the log line
};

// The header at the start of `bytes` (what arrived so far). need_more
// promises that all of `bytes` is header (so a reader may consume it), and
// comes at most k_proxy_v1_max (version 1) or k_proxy_header_max (version 2)
// bytes into the stream. Strict: version 1 exactly as the spec writes it
// (single spaces, canonical addresses, no leading zeros, CRLF), version 2
// with version 2, LOCAL or PROXY, TCP over IPv4/IPv6 (UNSPEC and AF_UNIX as
// unknown), the address block as long as its family needs and TLVs that
// tile the rest exactly.
ProxyHeader parse_proxy_header(std::string_view bytes) noexcept;

// A version 2 PROXY header for a TCP connection from `source` to
// `destination` (both IPv6, IPv4 mapped, when their families differ).
std::string proxy_v2_header(const ProxyEndpoint& source, const ProxyEndpoint& destination);

}  // namespace zmproxy::net

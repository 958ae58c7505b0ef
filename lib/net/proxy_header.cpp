#include "lib/net/proxy_header.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace zmproxy::net {

namespace {

constexpr std::string_view k_v1_prefix = "PROXY ";
constexpr std::string_view k_v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::size_t k_v2_fixed = 16;

ProxyHeader invalid(int version, std::string_view reason) {
  ProxyHeader h;
  h.status = ProxyParse::invalid;
  h.version = version;
  h.reason = reason;
  return h;
}

ProxyHeader need_more(int version) {
  ProxyHeader h;
  h.version = version;
  return h;
}

ProxyHeader complete(int version, std::size_t length, ProxySource source) {
  ProxyHeader h;
  h.status = ProxyParse::complete;
  h.version = version;
  h.length = length;
  h.source = source;
  return h;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// A decimal number without leading zeros ("0" itself allowed), at most `max`.
bool parse_decimal(std::string_view s, unsigned max, unsigned& out) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) {
    return false;
  }
  unsigned v = 0;
  for (const char c : s) {
    if (!is_digit(c)) {
      return false;
    }
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > max) {
    return false;
  }
  out = v;
  return true;
}

bool parse_ipv4(std::string_view s, ProxyEndpoint& out) {
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t dot = i < 3 ? s.find('.') : s.size();
    if (dot == std::string_view::npos || dot > 3) {
      return false;
    }
    unsigned octet = 0;
    if (!parse_decimal(s.substr(0, dot), 255, octet)) {
      return false;
    }
    out.address[i] = static_cast<std::uint8_t>(octet);
    s.remove_prefix(i < 3 ? dot + 1 : dot);
  }
  out.ipv6 = false;
  return s.empty();
}

bool parse_ipv6(std::string_view s, ProxyEndpoint& out) {
  // Hex digits and colons only (inet_pton would also take a dotted tail).
  if (s.empty() || s.size() > 39 ||
      !std::all_of(s.begin(), s.end(), [](char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':';
      })) {
    return false;
  }
  char text[40] = {};
  std::memcpy(text, s.data(), s.size());
  if (::inet_pton(AF_INET6, text, out.address.data()) != 1) {
    return false;
  }
  out.ipv6 = true;
  return true;
}

// "PROXY TCP4 src dst sport dport" (the CRLF cut off), or "PROXY UNKNOWN...".
ProxyHeader parse_v1_line(std::string_view line, std::size_t length) {
  line.remove_prefix(k_v1_prefix.size());
  if (line == "UNKNOWN" || line.substr(0, 8) == "UNKNOWN ") {
    return complete(1, length, ProxySource::unknown);
  }
  std::string_view fields[5];
  for (std::size_t i = 0; i < 5; ++i) {
    const std::size_t space = i < 4 ? line.find(' ') : line.size();
    if (space == std::string_view::npos) {
      return invalid(1, "version 1 line with fewer than 5 fields");
    }
    fields[i] = line.substr(0, space);
    line.remove_prefix(i < 4 ? space + 1 : space);
  }
  if (fields[4].find(' ') != std::string_view::npos) {
    return invalid(1, "version 1 line with more than 5 fields");
  }
  const bool v6 = fields[0] == "TCP6";
  if (!v6 && fields[0] != "TCP4") {
    return invalid(1, "version 1 protocol not TCP4, TCP6 or UNKNOWN");
  }
  ProxyHeader h = complete(1, length, ProxySource::proxied);
  ProxyEndpoint destination;
  const bool addresses_ok = v6 ? parse_ipv6(fields[1], h.client) && parse_ipv6(fields[2], destination)
                               : parse_ipv4(fields[1], h.client) && parse_ipv4(fields[2], destination);
  if (!addresses_ok) {
    return invalid(1, v6 ? "version 1 address not canonical IPv6" : "version 1 address not canonical IPv4");
  }
  unsigned source_port = 0;
  unsigned destination_port = 0;
  if (!parse_decimal(fields[3], 65535, source_port) ||
      !parse_decimal(fields[4], 65535, destination_port)) {
    return invalid(1, "version 1 port not a number from 0 to 65535 without leading zeros");
  }
  h.client.port = static_cast<std::uint16_t>(source_port);
  return h;
}

ProxyHeader parse_v1(std::string_view bytes) {
  const std::size_t prefix = std::min(bytes.size(), k_v1_prefix.size());
  if (bytes.substr(0, prefix) != k_v1_prefix.substr(0, prefix)) {
    return invalid(1, "not a PROXY protocol header");
  }
  const std::size_t scan = std::min(bytes.size(), k_proxy_v1_max);
  for (std::size_t i = 0; i < scan; ++i) {
    const char c = bytes[i];
    if (c == '\r') {
      if (i + 2 > k_proxy_v1_max) {
        break;
      }
      if (i + 1 == bytes.size()) {
        return need_more(1);
      }
      if (bytes[i + 1] != '\n') {
        return invalid(1, "version 1 line with a CR not followed by LF");
      }
      return parse_v1_line(bytes.substr(0, i), i + 2);
    }
    if (c < 0x20 || c > 0x7e) {
      return invalid(1, "version 1 line with a control or non-ASCII byte");
    }
  }
  if (scan == k_proxy_v1_max) {
    return invalid(1, "version 1 line without CRLF within 107 bytes");
  }
  return need_more(1);
}

std::uint16_t be16(std::string_view b, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned>(static_cast<std::uint8_t>(b[at])) << 8) |
                                    static_cast<std::uint8_t>(b[at + 1]));
}

ProxyHeader parse_v2(std::string_view bytes) {
  const std::size_t prefix = std::min(bytes.size(), k_v2_signature.size());
  if (bytes.substr(0, prefix) != k_v2_signature.substr(0, prefix)) {
    return invalid(2, "not a PROXY protocol header");
  }
  if (bytes.size() > 12) {
    const auto ver_cmd = static_cast<std::uint8_t>(bytes[12]);
    if ((ver_cmd >> 4) != 2) {
      return invalid(2, "version 2 signature with a version other than 2");
    }
    if ((ver_cmd & 0x0f) > 1) {
      return invalid(2, "version 2 command neither LOCAL nor PROXY");
    }
  }
  if (bytes.size() < k_v2_fixed) {
    return need_more(2);
  }
  const std::size_t total = k_v2_fixed + be16(bytes, 14);
  if (total > k_proxy_header_max) {
    return invalid(2, "version 2 header longer than 4096 bytes");
  }
  if (bytes.size() < total) {
    return need_more(2);
  }
  if ((static_cast<std::uint8_t>(bytes[12]) & 0x0f) == 0) {
    return complete(2, total, ProxySource::local);  // its block is ignored, as the spec says
  }
  const std::size_t block = total - k_v2_fixed;
  std::size_t addresses = 0;
  ProxyHeader h = complete(2, total, ProxySource::proxied);
  switch (static_cast<std::uint8_t>(bytes[13])) {
    case 0x11:  // TCP over IPv4
      addresses = 12;
      if (block >= addresses) {
        std::memcpy(h.client.address.data(), bytes.data() + k_v2_fixed, 4);
        h.client.port = be16(bytes, k_v2_fixed + 8);
      }
      break;
    case 0x21:  // TCP over IPv6
      addresses = 36;
      if (block >= addresses) {
        h.client.ipv6 = true;
        std::memcpy(h.client.address.data(), bytes.data() + k_v2_fixed, 16);
        h.client.port = be16(bytes, k_v2_fixed + 32);
      }
      break;
    case 0x00:  // UNSPEC: no address to believe, nor a known block to walk
      return complete(2, total, ProxySource::unknown);
    case 0x31:  // a Unix stream socket: the peer is the client
      addresses = 216;
      h.source = ProxySource::unknown;
      break;
    default:
      return invalid(2, "version 2 transport not TCP over IPv4 or IPv6");
  }
  if (block < addresses) {
    return invalid(2, "version 2 address block shorter than its family needs");
  }
  for (std::size_t at = k_v2_fixed + addresses; at < total;) {
    if (total - at < 3) {
      return invalid(2, "version 2 TLV cut short");
    }
    const std::size_t next = at + 3 + be16(bytes, at + 1);
    if (next > total) {
      return invalid(2, "version 2 TLV longer than the header");
    }
    at = next;
  }
  if (h.source == ProxySource::unknown) {
    h.client = {};
  }
  return h;
}

}  // namespace

ProxyHeader parse_proxy_header(std::string_view bytes) noexcept {
  if (bytes.empty()) {
    return need_more(0);
  }
  if (bytes[0] == 'P') {
    return parse_v1(bytes);
  }
  if (bytes[0] == '\r') {
    return parse_v2(bytes);
  }
  return invalid(0, "not a PROXY protocol header");
}

std::string proxy_v2_header(const ProxyEndpoint& source, const ProxyEndpoint& destination) {
  const bool v6 = source.ipv6 || destination.ipv6;
  const auto put_address = [v6](std::string& out, const ProxyEndpoint& e) {
    if (v6 && !e.ipv6) {
      static constexpr char k_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\xff', '\xff'};
      out.append(k_mapped, sizeof k_mapped);
    }
    out.append(reinterpret_cast<const char*>(e.address.data()), e.ipv6 ? 16 : 4);
  };
  const auto put16 = [](std::string& out, unsigned v) {
    out.push_back(static_cast<char>((v >> 8) & 0xff));
    out.push_back(static_cast<char>(v & 0xff));
  };
  std::string out(k_v2_signature);
  out.push_back('\x21');               // version 2, PROXY
  out.push_back(v6 ? '\x21' : '\x11');  // TCP over IPv6 / IPv4
  put16(out, v6 ? 36U : 12U);
  put_address(out, source);
  put_address(out, destination);
  put16(out, source.port);
  put16(out, destination.port);
  return out;
}

}  // namespace zmproxy::net

#pragma once
// host:port, parsed and formatted in one place. Accepted: "host",
// "host:port", "[v6]", "[v6]:port", and a bare IPv6 address ("::1", with no
// port: more than one colon outside brackets is read as an IPv6 address, which
// then cannot carry a port). A host is a DNS name or IPv4 address (letters,
// digits, '.', '-', '_') or an IPv6 address (brackets optional as above); a
// port is decimal in 1..65535 (0 too where the rules allow it). Formatting
// puts an IPv6 host back in brackets. Pure: standard library only, so the
// protocol parsers (lib/proxy/parsers.cmake) may use it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::core {

struct Address {
  std::string host;  // without brackets
  std::uint16_t port = 0;

  bool operator==(const Address&) const = default;
};

struct AddressRules {
  // The port when the text has none; without one the port is required.
  std::optional<std::uint16_t> default_port;
  bool port_zero = false;   // ":0" (a listener's "any free port") is allowed
  bool empty_host = false;  // ":port" (a listener on every address) is allowed
};

// The parse's outcome: the address, or one line naming the text and what is
// allowed.
struct ParsedAddress {
  Address address;
  std::string error;   // the whole line: "'text' is not an address (why); expected ..."
  std::string reason;  // only why, for callers that name the text their own way

  explicit operator bool() const noexcept { return error.empty(); }
  const Address& operator*() const noexcept { return address; }
  const Address* operator->() const noexcept { return &address; }
};

ParsedAddress parse_address(std::string_view text, const AddressRules& rules = {});

// The host of a Host header or similar, leniently: the inside of "[v6]" or
// "[v6]:port" (to the end when ']' is missing), the part before the colon of
// "host:port" (one colon only), else the text itself (a bare IPv6 address).
// Nothing is validated; use parse_address for that.
std::string_view host_part(std::string_view authority) noexcept;

// Whether `text` is an IPv6 address (no brackets, an optional %zone).
bool is_ipv6_literal(std::string_view text) noexcept;

// "host" or, for an IPv6 address, "[host]".
std::string format_host(std::string_view host);

// "host:port" or "[v6]:port".
std::string format_address(std::string_view host, unsigned port);
inline std::string format_address(const Address& a) {
  return format_address(a.host, a.port);
}

}  // namespace zmproxy::core

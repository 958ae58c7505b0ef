#pragma once
// Strict server names (zimbraReverseProxyStrictServerNameEnabled, §7.2): with
// it on, a request whose Host is not one of the proxy's names gets 400, as the
// extra `server_name _` default server of Zimbra's templates does. Pure.
//
// The names are the proxy's own host name plus every domain's
// zimbraVirtualHostname and zimbraVirtualIPAddress.
//
// Thread affinity: none (pure functions).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/address.hpp"

namespace zmproxy::proxy::http {

// A Host header split into host and port (core::parse_address). The host has
// no brackets; `ipv6` says it was a bracketed IPv6 literal; the port is 0
// when the header names none (`has_port`).
struct HostHeader {
  core::Address address;
  bool has_port = false;
  bool ipv6 = false;
};

// nullopt for a Host header that is empty or malformed: a reg-name may only
// hold letters, digits, '-', '.', '_'; an IPv6 literal must be bracketed and
// valid (no zone); a port must be decimal and <= 65535 (0 included; "host:"
// counts as no port). Optional whitespace around the value is ignored.
std::optional<HostHeader> split_host_header(std::string_view host_header);

// strict off: always true. strict on: the host of the Host header (port
// stripped, brackets removed, case-insensitive, one trailing dot ignored)
// equals one of `names` (compared the same way; IPv6 literals compare as
// addresses, so "[::1]" matches "0:0::1"). A missing or malformed Host header
// is refused; empty names are skipped.
bool host_allowed(std::string_view host_header, const std::vector<std::string>& names, bool strict);

}  // namespace zmproxy::proxy::http

#pragma once
// Who may ask zmlookupd, and where it may listen: the listen address (an IP
// address and port; beyond loopback only with a caller secret), callers'
// addresses against zmlookupd_allowed_peers, and the caller secret compared
// in constant time. Include only from .cpp files (it brings Asio).

#include "lib/core/result.hpp"
#include "lib/net/asio.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::route {

// "address:port", ":port", "address", "[v6]" or "[v6]:port" (port 7072 when
// absent, 0 for any free port; no host is every IPv4 address). The address
// must be an IP address, not a name.
Result<net::tcp::endpoint> parse_listen(const std::string& text);

// Whether zmlookupd may listen on `listen` ("address:port"): beyond loopback
// only with a caller secret. The error is the one line zmlookupd logs.
Result<void> check_listen_policy(const std::string& listen, bool has_secret);

// Whether a caller at `peer` may ask: anyone when `allowed` is empty, else an
// address in one of its addresses/CIDRs (an IPv4-mapped IPv6 address counts
// as its IPv4 address).
bool peer_allowed(const net::asio::ip::address& peer, const std::vector<std::string>& allowed);

// Whether `given` is the secret, without leaking where the first difference is.
bool same_secret(std::string_view given, std::string_view expected);

}  // namespace zmproxy::route

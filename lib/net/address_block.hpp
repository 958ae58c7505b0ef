#pragma once
// An address or CIDR block as written in settings ("192.0.2.0/24",
// "2001:db8::/32", "::1"; an address alone is the whole width), and whether
// an address falls in it. One parser for every such list: zimbraDomainAllowedIPs
// and zmlookupd's callers (route::ip_allowed), http.trusted_proxies (checked at
// load, matched per connection). Pure; no name resolution.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::net {

struct AddressBlock {
  std::array<unsigned char, 16> bytes{};  // network order; IPv4 in the first 4
  int family = 0;                         // AF_INET or AF_INET6
  int bits = 0;                           // prefix length
};

// nullopt unless `text` is exactly an address, or an address, '/' and a
// prefix length no wider than the address.
std::optional<AddressBlock> parse_address_block(std::string_view text);

// Is `address` (a parsed address alone) inside `block`? Families must match.
bool block_contains(const AddressBlock& block, const AddressBlock& address) noexcept;

// Splits a settings list of addresses and CIDRs (commas and/or white space,
// as in localconfig zmproxy_trusted_proxies) into its entries.
std::vector<std::string> split_address_list(std::string_view text);

// Is `entry` an address or CIDR ("192.0.2.0/24", "2001:db8::/32", "::1")?
bool is_address_or_cidr(std::string_view entry);

}  // namespace zmproxy::net

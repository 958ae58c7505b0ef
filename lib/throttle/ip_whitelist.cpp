#include "lib/throttle/ip_whitelist.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <optional>

namespace zmproxy::throttle {

namespace {

// "::ffff:192.0.2.7" (a dual-stack listener's IPv4 client) as 192.0.2.7, so
// an IPv4 block whitelists it as it would on an IPv4 listener.
net::AddressBlock unmapped(net::AddressBlock address) noexcept {
  if (address.family != AF_INET6) {
    return address;
  }
  const bool mapped = std::all_of(address.bytes.begin(), address.bytes.begin() + 10,
                                  [](unsigned char b) { return b == 0; }) &&
                      address.bytes[10] == 0xff && address.bytes[11] == 0xff;
  if (!mapped) {
    return address;
  }
  net::AddressBlock v4;
  std::copy(address.bytes.begin() + 12, address.bytes.end(), v4.bytes.begin());
  v4.family = AF_INET;
  v4.bits = 32;
  return v4;
}

}  // namespace

Result<IpWhitelist> IpWhitelist::build(const std::vector<std::string>& entries) {
  IpWhitelist list;
  for (const std::string& value : entries) {
    for (const std::string& entry : net::split_address_list(value)) {
      const std::optional<net::AddressBlock> block = net::parse_address_block(entry);
      if (!block) {
        return fail(Errc::invalid_argument,
                    "zimbraReverseProxyIPThrottleWhitelist: '" + entry +
                        "' is not an IP address or CIDR block (e.g. 192.0.2.0/24, 2001:db8::/32)");
      }
      if (list.m_blocks.size() == k_max_entries) {
        return fail(Errc::invalid_argument,
                    "zimbraReverseProxyIPThrottleWhitelist: more than " +
                        std::to_string(k_max_entries) + " entries; merge them into wider blocks");
      }
      list.m_blocks.push_back(*block);
    }
  }
  return list;
}

bool IpWhitelist::contains(std::string_view address) const {
  if (m_blocks.empty() || address.find('/') != std::string_view::npos) {
    return false;
  }
  const std::optional<net::AddressBlock> parsed = net::parse_address_block(address);
  if (!parsed) {
    return false;
  }
  const net::AddressBlock client = unmapped(*parsed);
  return std::any_of(m_blocks.begin(), m_blocks.end(), [&](const net::AddressBlock& block) {
    return net::block_contains(block, client);
  });
}

}  // namespace zmproxy::throttle

#pragma once
// IpWhitelist: the addresses and CIDR blocks (IPv4 and IPv6) that the per-IP
// connection limit never applies to, from zimbraReverseProxyIPThrottleWhitelist
// (one entry per value; an entry may also hold several, split as
// net::split_address_list splits). It exempts from the IP limit only, never
// from the user limit or the failed-login delay, as in Zimbra (§2.5).
//
// Zimbra caches each verdict in memcached (whitelist:ip=, for
// zimbraReverseProxyIPThrottleWhitelistTime) because its check is a walk over
// nginx's CIDR array in every worker; here the match is a few compares in
// process, cheaper than the round trip, so no verdict is cached and a change
// of the list takes effect at once.
//
// Thread affinity: build() once (configuration load); contains() is const
// and thread-safe.

#include "lib/core/result.hpp"
#include "lib/net/address_block.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::throttle {

class IpWhitelist {
 public:
  // At most this many blocks; a longer list is a configuration error.
  static constexpr std::size_t k_max_entries = 4096;

  IpWhitelist() = default;
  // Errors are Errc::invalid_argument naming the entry that is not an
  // address or CIDR block.
  static Result<IpWhitelist> build(const std::vector<std::string>& entries);

  // Is the client address `address` (text, as accepted) inside one block?
  // A text that is not an address is never whitelisted.
  bool contains(std::string_view address) const;
  bool empty() const noexcept { return m_blocks.empty(); }

 private:
  std::vector<net::AddressBlock> m_blocks;
};

}  // namespace zmproxy::throttle

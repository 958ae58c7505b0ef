#include "lib/net/address_block.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <string>

namespace zmproxy::net {

std::optional<AddressBlock> parse_address_block(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  AddressBlock b;
  if (::inet_pton(AF_INET, address.c_str(), b.bytes.data()) == 1) {
    b.family = AF_INET;
    b.bits = 32;
  } else if (::inet_pton(AF_INET6, address.c_str(), b.bytes.data()) == 1) {
    b.family = AF_INET6;
    b.bits = 128;
  } else {
    return std::nullopt;
  }
  if (slash == std::string_view::npos) {
    return b;
  }
  const std::string_view prefix = text.substr(slash + 1);
  int bits = -1;
  const auto [end, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
  if (prefix.empty() || ec != std::errc() || end != prefix.data() + prefix.size() || bits < 0 ||
      bits > b.bits) {
    return std::nullopt;
  }
  b.bits = bits;
  return b;
}

bool block_contains(const AddressBlock& block, const AddressBlock& address) noexcept {
  if (block.family != address.family) {
    return false;
  }
  for (int i = 0; i < block.bits; ++i) {
    const auto byte = static_cast<std::size_t>(i / 8);
    const int mask = 0x80 >> (i % 8);
    if ((block.bytes[byte] & mask) != (address.bytes[byte] & mask)) {
      return false;
    }
  }
  return true;
}

}  // namespace zmproxy::net

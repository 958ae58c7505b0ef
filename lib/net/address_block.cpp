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

std::vector<std::string> split_address_list(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = text.find_first_not_of(", \t\r\n", i);
    if (start == std::string_view::npos) {
      break;
    }
    std::size_t end = text.find_first_of(", \t\r\n", start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    out.emplace_back(text.substr(start, end - start));
    i = end;
  }
  return out;
}

bool is_address_or_cidr(std::string_view entry) {
  return parse_address_block(entry).has_value();
}

}  // namespace zmproxy::net

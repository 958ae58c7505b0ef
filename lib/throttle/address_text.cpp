#include "lib/throttle/address_text.hpp"

#include <sys/socket.h>

#include <cstddef>

namespace zmproxy::throttle {

namespace {

constexpr std::string_view k_hex = "0123456789abcdef";

void append_decimal(std::string& out, unsigned value) {
  if (value >= 100) {
    out.push_back(static_cast<char>('0' + value / 100));
  }
  if (value >= 10) {
    out.push_back(static_cast<char>('0' + value / 10 % 10));
  }
  out.push_back(static_cast<char>('0' + value % 10));
}

void append_quad(std::string& out, const unsigned char* p) {
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      out.push_back('.');
    }
    append_decimal(out, p[i]);
  }
}

void append_group(std::string& out, unsigned group) {
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const unsigned digit = (group >> shift) & 0x0f;
    if (digit != 0 || started || shift == 0) {
      out.push_back(k_hex[digit]);
      started = true;
    }
  }
}

// ngx_inet6_ntop, step for step (groups counted in bytes, as there).
std::string ipv6_text(const unsigned char* p) {
  std::size_t zero = 16;  // start of the longest zero run; 16: none
  std::size_t last = 16;
  std::size_t max = 1;    // a run must be two groups or more
  std::size_t n = 0;
  for (std::size_t i = 0; i < 16; i += 2) {
    if (p[i] != 0 || p[i + 1] != 0) {
      if (max < n) {
        zero = last;
        max = n;
      }
      n = 0;
      continue;
    }
    if (n++ == 0) {
      last = i;
    }
  }
  if (max < n) {
    zero = last;
    max = n;
  }
  std::string out;
  out.reserve(46);
  std::size_t end = 16;
  if (zero == 0) {
    if ((max == 5 && p[10] == 0xff && p[11] == 0xff) || max == 6 ||
        (max == 7 && p[14] != 0 && p[15] != 1)) {
      end = 12;
    }
    out.push_back(':');
  }
  for (std::size_t i = 0; i < end; i += 2) {
    if (i == zero) {
      out.push_back(':');
      i += (max - 1) * 2;
      continue;
    }
    append_group(out, static_cast<unsigned>(p[i]) * 256 + p[i + 1]);
    if (i < 14) {
      out.push_back(':');
    }
  }
  if (end == 12) {
    append_quad(out, p + 12);
  }
  return out;
}

}  // namespace

std::string nginx_address_text(const net::AddressBlock& address) {
  if (address.family == AF_INET) {
    std::string out;
    append_quad(out, address.bytes.data());
    return out;
  }
  return ipv6_text(address.bytes.data());
}

std::optional<std::string> nginx_address_text(std::string_view address) {
  if (address.find('/') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::optional<net::AddressBlock> parsed = net::parse_address_block(address);
  if (!parsed) {
    return std::nullopt;
  }
  return nginx_address_text(*parsed);
}

}  // namespace zmproxy::throttle

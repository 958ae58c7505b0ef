#include "lib/route/cache_key.hpp"

#include <openssl/evp.h>

#include <array>
#include <initializer_list>
#include <stdexcept>
#include <utility>

namespace zmproxy::route {

namespace {

constexpr std::string_view k_upper_hex = "0123456789ABCDEF";
constexpr std::string_view k_lower_hex = "0123456789abcdef";

constexpr bool needs_escape(unsigned char c) noexcept {
  return c <= 0x20 || c == 0x7f || c == '%';
}

std::string md5_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_md5(), nullptr) != 1) {
    // Only a FIPS-only OpenSSL configuration can refuse MD5; nothing here can go on.
    throw std::runtime_error("OpenSSL refused MD5, which memcached keys over 250 bytes need");
  }
  std::string out;
  out.reserve(std::size_t{2} * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(k_lower_hex[md[i] >> 4]);
    out.push_back(k_lower_hex[md[i] & 0x0f]);
  }
  return out;
}

std::string concat(std::initializer_list<std::string_view> parts) {
  std::size_t size = 0;
  for (std::string_view p : parts) {
    size += p.size();
  }
  std::string out;
  out.reserve(size);
  for (std::string_view p : parts) {
    out.append(p);
  }
  return out;
}

}  // namespace

std::string safe_key(std::string key) {
  std::size_t escapes = 0;
  for (char ch : key) {
    escapes += needs_escape(static_cast<unsigned char>(ch)) ? 1 : 0;
  }
  if (escapes != 0) {
    std::string escaped;
    escaped.reserve(key.size() + 2 * escapes);
    for (char ch : key) {
      const auto c = static_cast<unsigned char>(ch);
      if (needs_escape(c)) {
        escaped.push_back('%');
        escaped.push_back(k_upper_hex[c >> 4]);
        escaped.push_back(k_upper_hex[c & 0x0f]);
      } else {
        escaped.push_back(ch);
      }
    }
    key = std::move(escaped);
  }
  if (key.size() > k_max_key_length) {
    return md5_hex(key);
  }
  return key;
}

bool is_safe_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > k_max_key_length) {
    return false;
  }
  for (char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

std::string route_key(std::string_view protocol, std::string_view user) {
  return safe_key(concat({"route:proto=", protocol, ";user=", user}));
}

std::string route_id_key(std::string_view protocol, std::string_view zimbra_id, RouteKind kind) {
  std::string_view marker;
  switch (kind) {
    case RouteKind::web:
      marker = ";";
      break;
    case RouteKind::admin:
      marker = ";admin=1;";
      break;
    case RouteKind::zx:
      marker = ";zx=1;";
      break;
  }
  return safe_key(concat({"route:proto=", protocol, marker, "id=", zimbra_id}));
}

std::string alias_key(std::string_view login, std::string_view ip) {
  return safe_key(concat({"alias:user=", login, ";ip=", ip}));
}

std::string alias_vhost_key(std::string_view login, std::string_view vhost) {
  return safe_key(concat({"alias:user=", login, ";vhost=", vhost}));
}

}  // namespace zmproxy::route

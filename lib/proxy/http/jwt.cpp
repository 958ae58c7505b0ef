#include "lib/proxy/http/jwt.hpp"

#include <cstdint>

namespace zmproxy::proxy::http {

namespace {

bool is_base64url_segment(std::string_view s) noexcept {
  for (const char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '=';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string> jwt_payload(std::string_view jwt) {
  const std::size_t first = jwt.find('.');
  if (first == std::string_view::npos) {
    return std::nullopt;
  }
  const std::size_t second = jwt.find('.', first + 1);
  if (second == std::string_view::npos || jwt.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;  // not JWS compact (JWE has five segments)
  }
  const std::string_view header = jwt.substr(0, first);
  const std::string_view payload = jwt.substr(first + 1, second - first - 1);
  const std::string_view signature = jwt.substr(second + 1);
  if (header.empty() || payload.empty() || !is_base64url_segment(header) ||
      !is_base64url_segment(signature)) {
    return std::nullopt;
  }
  return base64url_decode(payload);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '-') {
      v = 62;
    } else if (c == '_') {
      v = 63;
    }
    if (v < 0) {
      return std::nullopt;
    }
    acc = ((acc << 6) | static_cast<std::uint32_t>(v)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace zmproxy::proxy::http

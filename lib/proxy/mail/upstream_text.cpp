#include "lib/proxy/mail/upstream_text.hpp"

namespace zmproxy::proxy::mail {

bool safe_login_name(std::string_view v) noexcept {
  if (v.empty()) {
    return false;
  }
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return false;
    }
  }
  return true;
}

bool safe_secret(std::string_view v) noexcept {
  return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string printable_ascii(std::string_view v, std::size_t max) {
  std::string out;
  for (const char c : v) {
    if (out.size() >= max) {
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    }
  }
  return out;
}

bool clean_command_block(std::string_view block) noexcept {
  if (block.size() < 2 || block.substr(block.size() - 2) != "\r\n") {
    return false;
  }
  for (std::size_t i = 0; i < block.size(); ++i) {
    const char c = block[i];
    if (c == '\0') {
      return false;
    }
    if (c == '\r' && (i + 1 >= block.size() || block[i + 1] != '\n')) {
      return false;
    }
    if (c == '\n' && (i == 0 || block[i - 1] != '\r')) {
      return false;
    }
  }
  return true;
}

std::string proxy_tag(std::uint64_t random) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string tag = "zp";
  for (int shift = 60; shift >= 0; shift -= 4) {
    tag += k_hex[(random >> static_cast<unsigned>(shift)) & 0xfu];
  }
  return tag;
}

}  // namespace zmproxy::proxy::mail

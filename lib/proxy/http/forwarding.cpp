#include "lib/proxy/http/forwarding.hpp"

#include "lib/core/strings.hpp"

#include <arpa/inet.h>
#include <array>
#include <charconv>

namespace zmproxy::proxy::http {

bool is_forwarding_field(std::string_view name) {
  for (std::string_view f : {"X-Forwarded-For", "X-Real-IP", "Forwarded", "X-Forwarded-Host",
                             "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Server"}) {
    if (core::iequals(name, f)) {
      return true;
    }
  }
  return false;
}

bool drop_client_field(std::string_view name, bool trusted_peer) {
  return trusted_peer ? core::iequals(name, "X-Forwarded-For") : is_forwarding_field(name);
}

void append_forwarding_fields(std::string& out, const ForwardingInput& in) {
  out.append("X-Forwarded-For: ");
  if (in.trusted_peer && !in.client_xff.empty()) {
    out.append(in.client_xff).append(", ");
  }
  out.append(in.peer_ip).append("\r\n");
  if (!in.trusted_peer || !in.client_has_real_ip) {
    out.append("X-Real-IP: ").append(in.peer_ip).append("\r\n");
  }
  if (!in.trusted_peer || !in.client_has_proto) {
    out.append("X-Forwarded-Proto: ").append(in.scheme).append("\r\n");
  }
  if ((!in.trusted_peer || !in.client_has_host) && !in.host.empty()) {
    out.append("X-Forwarded-Host: ").append(in.host).append("\r\n");
  }
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
  const std::size_t slash = entry.find('/');
  const std::string addr(entry.substr(0, slash));
  std::array<unsigned char, 16> buf{};
  int max_bits = 0;
  if (::inet_pton(AF_INET, addr.c_str(), buf.data()) == 1) {
    max_bits = 32;
  } else if (::inet_pton(AF_INET6, addr.c_str(), buf.data()) == 1) {
    max_bits = 128;
  } else {
    return false;
  }
  if (slash == std::string_view::npos) {
    return true;
  }
  const std::string_view b = entry.substr(slash + 1);
  int bits = -1;
  const auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
  return !b.empty() && ec == std::errc() && p == b.data() + b.size() && bits >= 0 &&
         bits <= max_bits;
}

}  // namespace zmproxy::proxy::http

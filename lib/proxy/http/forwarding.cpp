#include "lib/proxy/http/forwarding.hpp"

#include "lib/core/strings.hpp"
#include "lib/net/address_block.hpp"

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
  return net::parse_address_block(entry).has_value();
}

}  // namespace zmproxy::proxy::http

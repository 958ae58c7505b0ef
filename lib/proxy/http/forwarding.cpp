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

}  // namespace zmproxy::proxy::http

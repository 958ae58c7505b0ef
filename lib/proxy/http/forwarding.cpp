#include "lib/proxy/http/forwarding.hpp"

#include "lib/core/strings.hpp"
#include "lib/net/address_block.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace zmproxy::proxy::http {

bool is_forwarding_field(std::string_view name) {
  // Measured when compiled, not with strlen on every field of every request.
  static constexpr std::array<std::string_view, 7> k_names{
      "X-Forwarded-For",  "X-Real-IP",        "Forwarded",         "X-Forwarded-Host",
      "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Server"};
  for (std::string_view f : k_names) {
    if (core::iequals(name, f)) {
      return true;
    }
  }
  return false;
}

bool drop_client_field(std::string_view name, bool trusted_peer) {
  return trusted_peer ? core::iequals(name, "X-Forwarded-For") : is_forwarding_field(name);
}

std::string_view forwarded_client(std::string_view client_xff,
                                  const std::vector<std::string>& trusted) {
  std::vector<net::AddressBlock> blocks;
  for (const std::string& t : trusted) {
    if (auto b = net::parse_address_block(t)) {
      blocks.push_back(*b);
    }
  }
  while (!client_xff.empty()) {
    const std::size_t comma = client_xff.rfind(',');
    const std::string_view entry =
        core::trim_ows(comma == std::string_view::npos ? client_xff : client_xff.substr(comma + 1));
    client_xff = comma == std::string_view::npos ? std::string_view() : client_xff.substr(0, comma);
    const std::optional<net::AddressBlock> address = net::parse_address_block(entry);
    if (!address || entry.find('/') != std::string_view::npos) {
      return {};  // not an address: nothing left of it can be believed
    }
    const bool is_trusted =
        std::any_of(blocks.begin(), blocks.end(),
                    [&](const net::AddressBlock& b) { return net::block_contains(b, *address); });
    if (!is_trusted) {
      return entry;
    }
  }
  return {};
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

#include "lib/krb5/security_layer.hpp"

#include <fmt/format.h>

namespace zmproxy::krb5 {

std::string server_layer_offer() {
  return std::string{static_cast<char>(k_layer_none), '\0', '\0', '\0'};
}

std::string client_layer_reply(std::uint8_t layers,
                               std::uint32_t max_buffer,
                               std::string_view authzid) {
  std::string out;
  out.reserve(4 + authzid.size());
  out.push_back(static_cast<char>(layers));
  out.push_back(static_cast<char>((max_buffer >> 16) & 0xff));
  out.push_back(static_cast<char>((max_buffer >> 8) & 0xff));
  out.push_back(static_cast<char>(max_buffer & 0xff));
  out.append(authzid);
  return out;
}

namespace {

std::string_view layer_name(std::uint8_t layers) {
  switch (layers) {
    case 0:
      return "no layer at all";
    case k_layer_integrity:
      return "the integrity layer";
    case k_layer_confidentiality:
      return "the confidentiality layer";
    default:
      return "more than one layer";
  }
}

}  // namespace

bool is_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t code = 0;
    std::uint32_t least = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
      code = c & 0x1fU;
      least = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      code = c & 0x0fU;
      least = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      code = c & 0x07U;
      least = 0x10000;
    } else {
      return false;
    }
    if (text.size() - i <= extra) {
      return false;
    }
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0U) != 0x80U) {
        return false;
      }
      code = (code << 6U) | (cc & 0x3fU);
    }
    if (code < least || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

Result<std::string> parse_client_layer_reply(std::string_view reply) {
  if (reply.size() < 4) {
    return fail(
        Errc::invalid_argument,
        fmt::format("GSSAPI security layer reply is {} bytes, not at least 4", reply.size()));
  }
  const auto layers = static_cast<std::uint8_t>(reply[0]);
  if (layers != k_layer_none) {
    return fail(Errc::invalid_argument,
                fmt::format("GSSAPI client chose {} (0x{:02x}); only no security layer is offered",
                            layer_name(layers), layers));
  }
  const std::string_view authzid = reply.substr(4);
  if (authzid.size() > k_max_authzid) {
    return fail(Errc::invalid_argument,
                fmt::format("GSSAPI authorization identity is {} bytes, longer than {}",
                            authzid.size(), k_max_authzid));
  }
  for (const char ch : authzid) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      return fail(Errc::invalid_argument,
                  "GSSAPI authorization identity holds a NUL or control character");
    }
  }
  if (!is_utf8(authzid)) {
    return fail(Errc::invalid_argument, "GSSAPI authorization identity is not UTF-8");
  }
  return std::string{authzid};
}

}  // namespace zmproxy::krb5

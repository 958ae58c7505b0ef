#include "lib/net/control_proof.hpp"

#include "lib/net/hmac_hex.hpp"

#include <openssl/rand.h>

namespace zmproxy::net {

namespace {

constexpr char k_hex[] = "0123456789abcdef";

std::string hex(const unsigned char* data, std::size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += k_hex[data[i] >> 4];
    out += k_hex[data[i] & 0x0f];
  }
  return out;
}

bool is_hex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// A name FORGET takes: printable ASCII, no space.
bool is_name(std::string_view s) {
  if (s.empty() || s.size() > 512) {
    return false;
  }
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return false;
    }
  }
  return true;
}

// What a proof signs: the nonce binds it to one connection, the command to
// one request.
std::string proof_message(std::string_view nonce, std::string_view command) {
  std::string message = "zmproxy-control ";
  message.append(nonce).append(" ").append(command);
  return message;
}

}  // namespace

std::string make_control_nonce() {
  unsigned char bytes[16];
  if (::RAND_bytes(bytes, sizeof bytes) != 1) {
    return {};
  }
  return hex(bytes, sizeof bytes);
}

std::string control_proof(std::string_view secret,
                          std::string_view nonce,
                          std::string_view command) {
  return hmac_sha256_hex(secret, proof_message(nonce, command));
}

bool control_proof_matches(std::string_view proof,
                           std::string_view secret,
                           std::string_view nonce,
                           std::string_view command) {
  return hmac_sha256_hex_matches(proof, secret, proof_message(nonce, command));
}

std::optional<std::string> greeting_nonce(std::string_view line) {
  if (!line.starts_with(k_control_greeting)) {
    return std::nullopt;
  }
  const std::string_view nonce = line.substr(k_control_greeting.size());
  if (nonce.size() != 32 || !is_hex(nonce)) {
    return std::nullopt;
  }
  return std::string(nonce);
}

std::optional<ControlAnswer> split_control_answer(std::string_view line) {
  const auto space = line.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 >= line.size()) {
    return std::nullopt;
  }
  return ControlAnswer{line.substr(0, space), line.substr(space + 1)};
}

bool proxy_endpoint_allows(std::string_view command) {
  if (command == "STATUS" || command == "FORGET ALL") {
    return true;
  }
  if (!command.starts_with("FORGET ")) {
    return false;
  }
  std::string_view rest = command.substr(7);
  while (true) {
    const auto space = rest.find(' ');
    if (!is_name(rest.substr(0, space))) {
      return false;
    }
    if (space == std::string_view::npos) {
      return true;
    }
    rest = rest.substr(space + 1);
  }
}

bool lookup_endpoint_allows(std::string_view command) {
  return command == "FLUSH" || command == "STATS";
}

}  // namespace zmproxy::net

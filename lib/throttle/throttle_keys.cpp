#include "lib/throttle/throttle_keys.hpp"

#include "lib/core/strings.hpp"
#include "lib/route/cache_key.hpp"

#include <utility>

namespace zmproxy::throttle {

namespace {

char protocol_letter(MailProtocol protocol) noexcept {
  return protocol == MailProtocol::pop3 ? 'p' : 'i';
}

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

// A key part with its %XX escapes undone; nullopt when malformed or empty.
std::optional<std::string> unescaped(std::string_view part) {
  if (part.empty()) {
    return std::nullopt;
  }
  std::optional<std::string> out = core::percent_decode(part, false);
  if (!out || out->empty()) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::string ip_counter_key(MailProtocol protocol, std::string_view address) {
  std::string key = "throttle:proto=";
  key.push_back(protocol_letter(protocol));
  key.append(",ip=").append(address);
  return route::safe_key(std::move(key));
}

std::string user_counter_key(std::string_view qualified_user) {
  std::string key = "throttle:user=";
  key.append(qualified_user);
  return route::safe_key(std::move(key));
}

std::string whitelist_verdict_key(std::string_view address) {
  std::string key = "whitelist:ip=";
  key.append(address);
  return route::safe_key(std::move(key));
}

std::string failed_login_key(std::string_view qualified_user, std::string_view address) {
  std::string key = "zmproxy:authfail:user=";
  key.append(qualified_user).append(",ip=").append(address);
  return route::safe_key(std::move(key));
}

std::optional<ParsedKey> parse_throttle_key(std::string_view key) {
  ParsedKey parsed;
  std::optional<std::string> user;
  std::optional<std::string> address;
  if (starts_with(key, "throttle:proto=") && key.size() > 20 && key.substr(16, 4) == ",ip=" &&
      (key[15] == 'i' || key[15] == 'p')) {
    parsed.kind = KeyKind::ip;
    parsed.protocol = key[15] == 'p' ? MailProtocol::pop3 : MailProtocol::imap;
    address = unescaped(key.substr(20));
    user = std::string();
  } else if (starts_with(key, "throttle:user=")) {
    parsed.kind = KeyKind::user;
    user = unescaped(key.substr(14));
    address = std::string();
  } else if (starts_with(key, "whitelist:ip=")) {
    parsed.kind = KeyKind::whitelist_verdict;
    address = unescaped(key.substr(13));
    user = std::string();
  } else if (starts_with(key, "zmproxy:authfail:user=")) {
    const std::string_view rest = key.substr(22);
    const std::size_t ip = rest.rfind(",ip=");
    if (ip == std::string_view::npos) {
      return std::nullopt;
    }
    parsed.kind = KeyKind::failed_logins;
    user = unescaped(rest.substr(0, ip));
    address = unescaped(rest.substr(ip + 4));
  } else {
    return std::nullopt;
  }
  if (!user || !address) {
    return std::nullopt;
  }
  parsed.user = std::move(*user);
  parsed.address = std::move(*address);
  return parsed;
}

}  // namespace zmproxy::throttle

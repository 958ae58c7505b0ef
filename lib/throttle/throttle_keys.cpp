#include "lib/throttle/throttle_keys.hpp"

#include "lib/route/cache_key.hpp"

#include <utility>

namespace zmproxy::throttle {

namespace {

char protocol_letter(MailProtocol protocol) noexcept {
  return protocol == MailProtocol::pop3 ? 'p' : 'i';
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

}  // namespace zmproxy::throttle

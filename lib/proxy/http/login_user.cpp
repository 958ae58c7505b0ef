#include "lib/proxy/http/login_user.hpp"

#include <string_view>

namespace zmproxy::proxy::http {

namespace {

constexpr std::string_view k_preauth_path = "/service/preauth";

bool is_preauth(std::string_view path) noexcept {
  return path.starts_with(k_preauth_path) &&
         (path.size() == k_preauth_path.size() || path[k_preauth_path.size()] == '/');
}

bool iprefix(std::string_view path, std::string_view prefix) noexcept {
  if (path.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char a =
        path[i] >= 'A' && path[i] <= 'Z' ? static_cast<char>(path[i] - 'A' + 'a') : path[i];
    if (a != prefix[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool success_proves_login(std::string_view target) noexcept {
  const std::string_view path = split_target(target).path;
  return iprefix(path, "/microsoft-server-activesync") || iprefix(path, "/ews/exchange.asmx") ||
         path.starts_with("/dav/") || path.starts_with("/principals/") || is_preauth(path);
}

std::optional<std::string> login_user(const RequestView& r) {
  if (!r.authorization.empty()) {
    if (std::optional<std::string> user = basic_user(r.authorization)) {
      return user;
    }
  }
  const TargetParts parts = split_target(r.target);
  if (!is_preauth(parts.path)) {
    return std::nullopt;
  }
  std::optional<std::string> account = query_arg(parts.query, "account");
  if (!account || !is_usable_name(*account)) {
    return std::nullopt;
  }
  return account;
}

}  // namespace zmproxy::proxy::http

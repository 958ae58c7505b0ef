#include "lib/route/certauth_lookup.hpp"

#include "lib/core/strings.hpp"
#include "lib/route/subject_dn.hpp"

#include <utility>

namespace zmproxy::route {

Result<void> check_certauth_request(const LookupRequest& r) {
  const std::pair<std::string_view, const std::string*> required[] = {
      {"Auth-User", &r.user},
      {"Auth-Admin-User", &r.admin_user},
      {"Auth-Admin-Pass", &r.admin_pass},
      {"X-Proxy-IP", &r.proxy_ip},
  };
  for (const auto& [name, value] : required) {
    if (value->empty()) {
      return fail(Errc::invalid_argument, "(CERTAUTH) missing header field " + std::string(name));
    }
  }
  for (const auto& [name, value] : required) {
    const std::size_t limit = name == "Auth-User"         ? k_certauth_max_subject
                              : name == "Auth-Admin-Pass" ? std::size_t{1024}
                                                          : std::size_t{256};
    if (value->size() > limit || has_control_byte(*value)) {
      return fail(Errc::invalid_argument, "(CERTAUTH) invalid header field " + std::string(name));
    }
  }
  return {};
}

Result<const Entry*> certauth_account(std::string_view subject, const RouteIndex& index) {
  auto attributes = parse_subject_dn(subject);
  if (!attributes) {
    return fail(Errc::invalid_argument, "invalid X509 subject: " + attributes.error().message);
  }
  for (const DnAttribute& a : *attributes) {
    if (!is_email_attribute(a.type) || a.value.empty()) {
      continue;
    }
    if (const Entry* account = index.account_by_address(core::to_lower(a.value))) {
      return account;
    }
  }
  return fail(Errc::not_found, "account not found: " + std::string(subject));
}

LookupAnswer handle_certauth_lookup(const LookupRequest& r,
                                    const RouteIndex& index,
                                    std::string_view handler_server,
                                    const TokenCaller& caller) {
  if (auto refused = refuse_token_lookup("certauth", check_certauth_request(r), r, index, caller)) {
    return std::move(*refused);
  }
  auto account = certauth_account(r.user, index);
  if (!account) {
    return token_lookup_error(index, account.error().message);
  }
  const std::string user = core::to_lower((*account)->first("zimbraMailDeliveryAddress"));
  if (user.empty()) {
    return token_lookup_error(index, "account not found: " + r.user);
  }
  return route_with_token(r, index, handler_server, caller, user);
}

}  // namespace zmproxy::route

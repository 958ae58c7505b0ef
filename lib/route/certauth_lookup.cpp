#include "lib/route/certauth_lookup.hpp"

#include "lib/core/strings.hpp"
#include "lib/route/subject_dn.hpp"


namespace zmproxy::route {

Result<void> check_certauth_request(const LookupRequest& r) {
  return check_required_fields("CERTAUTH", {{"Auth-User", r.user, k_certauth_max_subject},
                                            {"Auth-Admin-User", r.admin_user, 256},
                                            {"Auth-Admin-Pass", r.admin_pass, 1024},
                                            {"X-Proxy-IP", r.proxy_ip, 256}});
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

#include "lib/route/gssapi_lookup.hpp"

#include "lib/core/strings.hpp"


namespace zmproxy::route {

Result<void> check_gssapi_request(const LookupRequest& r) {
  return check_required_fields("GSSAPI", {{"Auth-ID", r.auth_id, k_gssapi_max_name},
                                          {"Auth-User", r.user, k_gssapi_max_name},
                                          {"Auth-Admin-User", r.admin_user, k_gssapi_max_name},
                                          {"Auth-Admin-Pass", r.admin_pass, k_gssapi_max_pass},
                                          {"X-Proxy-IP", r.proxy_ip, k_gssapi_max_name}});
}

Result<GssapiAuthz> authorize_gssapi(const LookupRequest& r, const RouteIndex& index) {
  const Entry* account = index.account_by_principal(r.auth_id);
  if (account == nullptr) {
    return fail(Errc::not_found, "No account was found which has kerberos principal " + r.auth_id);
  }
  GssapiAuthz out{account, core::to_lower(account->first("zimbraMailDeliveryAddress"))};
  if (out.user.empty()) {
    return fail(Errc::not_found, "No account was found which has kerberos principal " + r.auth_id);
  }
  if (r.user == r.auth_id) {
    return out;
  }
  const std::string wanted = qualify_user(r, index);
  if (index.account_by_address(wanted) != account) {
    return fail(Errc::permission_denied, "authorization failed for " + wanted);
  }
  return out;
}

LookupAnswer handle_gssapi_lookup(const LookupRequest& r,
                                  const RouteIndex& index,
                                  std::string_view handler_server,
                                  const GssapiCaller& caller) {
  if (auto refused = refuse_token_lookup("gssapi", check_gssapi_request(r), r, index, caller)) {
    return std::move(*refused);
  }
  auto authz = authorize_gssapi(r, index);
  if (!authz) {
    return token_lookup_error(index, authz.error().message);
  }
  LookupAnswer answer = route_with_token(r, index, handler_server, caller, authz->user);
  if (answer.response.ok) {
    answer.response.auth_id = authz->user;
  }
  return answer;
}

}  // namespace zmproxy::route

#include "lib/route/gssapi_lookup.hpp"

#include "lib/core/duration.hpp"
#include "lib/core/strings.hpp"
#include "lib/provisioning/password.hpp"
#include "lib/route/lookup_token.hpp"
#include "lib/schema/value.hpp"

#include <utility>

namespace zmproxy::route {

namespace {

bool has_control_byte(std::string_view v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return true;
    }
  }
  return false;
}

int wait_seconds(const RouteIndex& index) {
  const auto ms = core::parse_duration(index.global_value("zimbraReverseProxyAuthWaitInterval"));
  return ms ? static_cast<int>(ms->count() / 1000) : 10;
}

// Burn the time of one password check when there is no hash to check
// against, so that a missing admin account answers as slowly as a wrong
// password.
bool check_against_nothing(std::string_view pass) {
  static const std::string k_dummy = provisioning::hash_password("zmlookupd: no such account");
  (void)provisioning::verify_password(pass, k_dummy);
  return false;
}

}  // namespace

Result<void> check_gssapi_request(const LookupRequest& r) {
  const std::pair<std::string_view, const std::string*> required[] = {
      {"Auth-ID", &r.auth_id},
      {"Auth-User", &r.user},
      {"Auth-Admin-User", &r.admin_user},
      {"Auth-Admin-Pass", &r.admin_pass},
      {"X-Proxy-IP", &r.proxy_ip},
  };
  for (const auto& [name, value] : required) {
    if (value->empty()) {
      return fail(Errc::invalid_argument, "(GSSAPI) missing header field " + std::string(name));
    }
  }
  for (const auto& [name, value] : required) {
    const std::size_t limit = name == "Auth-Admin-Pass" ? k_gssapi_max_pass : k_gssapi_max_name;
    if (value->size() > limit || has_control_byte(*value)) {
      return fail(Errc::invalid_argument, "(GSSAPI) invalid header field " + std::string(name));
    }
  }
  return {};
}

Result<void> check_gssapi_caller(const LookupRequest& r,
                                 const RouteIndex& index,
                                 std::string_view peer) {
  static const std::vector<std::string> k_none;
  const auto* listed = index.global().values("zimbraReverseProxyAdminIPAddress");
  const std::vector<std::string>& allowed = listed != nullptr ? *listed : k_none;
  if (!ip_allowed(r.proxy_ip, allowed)) {
    return fail(Errc::permission_denied, "X-Proxy-IP " + r.proxy_ip + " is not allowed");
  }
  if (!ip_allowed(peer, allowed)) {
    return fail(Errc::permission_denied,
                "lookup peer " + std::string(peer) +
                    " is not allowed (not in zimbraReverseProxyAdminIPAddress)");
  }
  return {};
}

bool admin_credentials_ok(const RouteIndex& index, std::string_view user, std::string_view pass) {
  std::string name = core::to_lower(user);
  if (name.find('@') == std::string::npos) {
    const std::string domain = index.global().first("zimbraDefaultDomainName");
    if (!domain.empty()) {
      name += "@" + core::to_lower(domain);
    }
  }
  const Entry* admin = index.account_by_address(name);
  if (admin == nullptr || !schema::is_true(admin->first("zimbraIsAdminAccount"))) {
    return check_against_nothing(pass);
  }
  const std::string hash = admin->first("userPassword");
  if (hash.empty()) {
    return check_against_nothing(pass);
  }
  return provisioning::verify_password(pass, hash);
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
  const int wait = wait_seconds(index);
  auto refuse = [&](std::string text) {
    return LookupAnswer{LookupResponse::error(std::move(text), wait)};
  };
  if (!is_known_protocol(r.protocol)) {
    return refuse("unsupported protocol: " + r.protocol);
  }
  if (auto checked = check_gssapi_request(r); !checked) {
    return refuse(checked.error().message);
  }
  if (caller.secret.empty()) {
    return refuse(
        "gssapi lookups need zmlookupd_secret (the token's key); set it with "
        "zmlocalconfig -e zmlookupd_secret=$(openssl rand -hex 32)");
  }
  if (auto allowed = check_gssapi_caller(r, index, caller.peer); !allowed) {
    return refuse(allowed.error().message);
  }
  if (!admin_credentials_ok(index, r.admin_user, r.admin_pass)) {
    return refuse("nginx admin authentication failed");
  }
  auto authz = authorize_gssapi(r, index);
  if (!authz) {
    return refuse(authz.error().message);
  }
  LookupRequest plain = r;
  plain.method = "username";
  plain.user = authz->user;
  LookupAnswer answer = handle_lookup(plain, index, handler_server);
  if (!answer.response.ok) {
    return answer;
  }
  answer.response.user = authz->user;
  answer.response.auth_id = authz->user;
  answer.response.token =
      mint_lookup_token(authz->user, caller.now + k_lookup_token_lifetime_s, caller.secret);
  return answer;
}

}  // namespace zmproxy::route

#include "lib/route/token_lookup.hpp"

#include "lib/core/duration.hpp"
#include "lib/core/strings.hpp"
#include "lib/provisioning/password.hpp"
#include "lib/route/lookup_token.hpp"
#include "lib/schema/value.hpp"

namespace zmproxy::route {

namespace {

// Burn the time of one password check when there is no hash to check
// against, so that a missing admin account answers as slowly as a wrong
// password.
bool check_against_nothing(std::string_view pass) {
  static const std::string k_dummy = provisioning::hash_password("zmlookupd: no such account");
  (void)provisioning::verify_password(pass, k_dummy);
  return false;
}

}  // namespace

Result<void> check_required_fields(std::string_view method, std::initializer_list<RequiredField> fields) {
  for (const RequiredField& f : fields) {
    if (f.value.empty()) {
      return fail(Errc::invalid_argument,
                  "(" + std::string(method) + ") missing header field " + std::string(f.name));
    }
  }
  for (const RequiredField& f : fields) {
    if (f.value.size() > f.limit || core::has_control_byte(f.value)) {
      return fail(Errc::invalid_argument,
                  "(" + std::string(method) + ") invalid header field " + std::string(f.name));
    }
  }
  return {};
}

int auth_wait_seconds(const RouteIndex& index) {
  const auto ms = core::parse_duration(index.global_value("zimbraReverseProxyAuthWaitInterval"));
  return ms ? static_cast<int>(ms->count() / 1000) : 10;
}

Result<void> check_token_caller(const LookupRequest& r,
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

std::optional<std::string> refuse_token_caller(std::string_view method,
                                               const LookupRequest& r,
                                               const RouteIndex& index,
                                               const TokenCaller& caller) {
  if (caller.secret.empty()) {
    return std::string(method) +
           " lookups need zmlookupd_secret (the token's key); set it with "
           "zmlocalconfig -e zmlookupd_secret=$(openssl rand -hex 32)";
  }
  if (auto allowed = check_token_caller(r, index, caller.peer); !allowed) {
    return allowed.error().message;
  }
  if (!admin_credentials_ok(index, r.admin_user, r.admin_pass)) {
    return std::string("nginx admin authentication failed");
  }
  return std::nullopt;
}

LookupAnswer token_lookup_error(const RouteIndex& index, std::string text) {
  return LookupAnswer{LookupResponse::error(std::move(text), auth_wait_seconds(index))};
}

std::optional<LookupAnswer> refuse_token_lookup(std::string_view method,
                                                const Result<void>& checked,
                                                const LookupRequest& r,
                                                const RouteIndex& index,
                                                const TokenCaller& caller) {
  if (!is_known_protocol(r.protocol)) {
    return token_lookup_error(index, "unsupported protocol: " + r.protocol);
  }
  if (!checked) {
    return token_lookup_error(index, checked.error().message);
  }
  if (auto refused = refuse_token_caller(method, r, index, caller)) {
    return token_lookup_error(index, std::move(*refused));
  }
  return std::nullopt;
}

LookupAnswer route_with_token(const LookupRequest& r,
                              const RouteIndex& index,
                              std::string_view handler_server,
                              const TokenCaller& caller,
                              const std::string& user) {
  LookupRequest plain = r;
  plain.method = "username";
  plain.user = user;
  LookupAnswer answer = handle_lookup(plain, index, handler_server);
  if (!answer.response.ok) {
    return answer;
  }
  answer.response.user = user;
  answer.response.token =
      mint_lookup_token(user, caller.now + k_lookup_token_lifetime_s, caller.secret);
  return answer;
}

}  // namespace zmproxy::route

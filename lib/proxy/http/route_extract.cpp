#include "lib/proxy/http/route_extract.hpp"

#include "lib/core/base64.hpp"
#include "lib/core/strings.hpp"
#include "lib/proxy/http/json_scan.hpp"
#include "lib/proxy/http/jwt.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <utility>

namespace zmproxy::proxy::http {

namespace {

constexpr std::string_view k_activesync_prefix = "/Microsoft-Server-ActiveSync";
constexpr std::string_view k_ews_prefix = "/ews/Exchange.asmx";
constexpr std::string_view k_auth_token_cookie = "ZM_AUTH_TOKEN";
constexpr std::string_view k_admin_auth_token_cookie = "ZM_ADMIN_AUTH_TOKEN";
// nginx gives up IP hashing (and uses round robin) after 20 tries.
constexpr std::size_t k_max_ip_hash_attempts = 20;
bool all_hex(std::string_view s) noexcept {
  for (const char c : s) {
    if (core::hex_digit_value(c) < 0) {
      return false;
    }
  }
  return true;
}

bool all_digits(std::string_view s) noexcept {
  for (const char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

bool is_control(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

}  // namespace

bool is_usable_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > k_max_route_name) {
    return false;
  }
  for (const char c : s) {
    if (is_control(c)) {
      return false;
    }
  }
  return true;
}

namespace {

// A zimbraId a rule may return: 1..k_max_route_name bytes of 0x21..0x7e.
bool is_usable_id(std::string_view s) noexcept {
  if (s.empty() || s.size() > k_max_route_name) {
    return false;
  }
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return false;
    }
  }
  return true;
}

std::optional<std::string> usable_name(std::optional<std::string> name) {
  if (!name || !is_usable_name(*name)) {
    return std::nullopt;
  }
  return name;
}

// The path segment after `prefix` (up to the next '/' or the end).
std::string_view segment_after(std::string_view path, std::size_t prefix) noexcept {
  const std::string_view rest = path.substr(prefix);
  return rest.substr(0, rest.find('/'));
}

// ---- Rule 1: REST ---------------------------------------------------------

std::optional<std::string> rest_user(std::string_view path) {
  for (const std::string_view prefix : {std::string_view("/home/"), std::string_view("/service/home/")}) {
    if (!path.starts_with(prefix)) {
      continue;
    }
    std::string_view segment = segment_after(path, prefix.size());
    if (!segment.empty() && segment.front() == '~') {
      segment.remove_prefix(1);  // ~user; a bare ~ means "the token's owner"
    }
    if (segment.empty()) {
      return std::nullopt;
    }
    return usable_name(core::percent_decode(segment, false));
  }
  return std::nullopt;
}

// ---- Rules 2 and 3: ActiveSync, EWS ------------------------------------------

// DOMAIN\user -> user@DOMAIN (split at the first backslash, as Zimbra does).
std::optional<std::string> translate_domain_user(std::string_view name) {
  const std::size_t backslash = name.find('\\');
  if (backslash == std::string_view::npos) {
    return std::string(name);
  }
  const std::string_view domain = name.substr(0, backslash);
  const std::string_view user = name.substr(backslash + 1);
  if (user.empty()) {
    return std::nullopt;
  }
  if (domain.empty()) {
    return std::string(user);
  }
  std::string out(user);
  out += '@';
  out += domain;
  return out;
}

// The credentials after an auth scheme ("Basic xxx"), or nullopt when the
// header uses another scheme. The scheme is case-insensitive (RFC 7235).
std::optional<std::string_view> auth_credentials(std::string_view authorization,
                                                 std::string_view scheme) {
  const std::string_view a = core::trim_ows(authorization);
  if (a.size() <= scheme.size() || !core::istarts_with(a, scheme) ||
      (a[scheme.size()] != ' ' && a[scheme.size()] != '\t')) {
    return std::nullopt;
  }
  return core::trim_ows(a.substr(scheme.size()));
}

}  // namespace

std::optional<std::string> basic_user(std::string_view authorization) {
  const std::optional<std::string_view> credentials = auth_credentials(authorization, "Basic");
  if (!credentials || credentials->size() > k_max_route_token) {
    return std::nullopt;
  }
  const std::optional<std::string> decoded = core::base64_decode(*credentials);
  if (!decoded) {
    return std::nullopt;
  }
  const std::string_view user = std::string_view(*decoded).substr(0, decoded->find(':'));
  return usable_name(translate_domain_user(user));
}

namespace {

std::optional<std::string> exchange_user(const RequestView& r, std::string_view query) {
  if (std::optional<std::string> user = basic_user(r.authorization)) {
    return user;
  }
  const std::optional<std::string> arg = query_arg(query, "User", true);
  if (!arg) {
    return std::nullopt;
  }
  return usable_name(translate_domain_user(*arg));
}

// ---- Rule 4: CalDAV / CardDAV ------------------------------------------------

std::optional<std::string> dav_user(std::string_view path) {
  for (const std::string_view prefix : {std::string_view("/dav/"), std::string_view("/principals/users/")}) {
    if (!path.starts_with(prefix)) {
      continue;
    }
    const std::string_view segment = segment_after(path, prefix.size());
    if (segment.empty()) {
      return std::nullopt;
    }
    return usable_name(core::percent_decode(segment, false));
  }
  return std::nullopt;
}

// ---- Rule 5: ZM_AUTH_TOKEN ------------------------------------------------------

std::optional<std::string> token_id_from_cookie(std::string_view cookie_header, std::string_view name) {
  for (const std::string_view value : cookie_values(cookie_header, name)) {
    std::string id = parse_zm_auth_token_id(value);
    if (!id.empty()) {
      return id;
    }
  }
  return std::nullopt;
}

std::optional<std::string> auth_token_id(const RequestView& r, std::string_view query) {
  if (std::optional<std::string> id = token_id_from_cookie(r.cookie, k_auth_token_cookie)) {
    return id;
  }
  if (const std::optional<std::string> token = query_arg(query, "zauthtoken")) {
    std::string id = parse_zm_auth_token_id(*token);
    if (!id.empty()) {
      return id;
    }
  }
  return std::nullopt;
}

// ---- Rule 6: JWT -------------------------------------------------------------------

std::optional<std::string> jwt_id(const RequestView& r, std::string_view query) {
  if (const std::optional<std::string_view> bearer = auth_credentials(r.authorization, "Bearer")) {
    if (std::optional<std::string> sub = jwt_subject(*bearer)) {
      return sub;
    }
  }
  if (const std::optional<std::string> token = query_arg(query, "zjwt")) {
    return jwt_subject(*token);
  }
  return std::nullopt;
}

RouteKey user_key(std::string user) {
  return RouteKey{RouteKey::Kind::user, std::move(user), false};
}

RouteKey id_key(std::string id, bool admin) {
  return RouteKey{RouteKey::Kind::zimbra_id, std::move(id), admin};
}

}  // namespace

// ---- Helpers -----------------------------------------------------------------------

TargetParts split_target(std::string_view target) noexcept {
  std::string_view rest = target;
  if (!target.starts_with('/')) {
    if (!core::istarts_with(target, "http://") && !core::istarts_with(target, "https://")) {
      return TargetParts{target, {}};
    }
    rest = target.substr(target.find("://") + 3);
    const std::size_t end = rest.find_first_of("/?#");
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  rest = rest.substr(0, rest.find('#'));
  const std::size_t q = rest.find('?');
  if (q == std::string_view::npos) {
    return TargetParts{rest, {}};
  }
  return TargetParts{rest.substr(0, q), rest.substr(q + 1)};
}

std::optional<std::string> query_arg(std::string_view query, std::string_view name, bool ignore_case) {
  std::size_t i = 0;
  while (i <= query.size()) {
    const std::size_t amp = query.find('&', i);
    const std::string_view piece =
        query.substr(i, amp == std::string_view::npos ? std::string_view::npos : amp - i);
    const std::size_t eq = piece.find('=');
    const std::optional<std::string> key = core::percent_decode(piece.substr(0, eq), true);
    if (key && (ignore_case ? core::iequals(*key, name) : *key == name)) {
      return core::percent_decode(eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1),
                            true);
    }
    if (amp == std::string_view::npos) {
      break;
    }
    i = amp + 1;
  }
  return std::nullopt;
}

std::vector<std::string_view> cookie_values(std::string_view cookie_header, std::string_view name) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < cookie_header.size()) {
    const std::size_t semi = cookie_header.find(';', i);
    const std::string_view piece = core::trim_ows(cookie_header.substr(
        i, semi == std::string_view::npos ? std::string_view::npos : semi - i));
    const std::size_t eq = piece.find('=');
    if (eq != std::string_view::npos && core::trim_ows(piece.substr(0, eq)) == name) {
      std::string_view value = core::trim_ows(piece.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      out.push_back(value);
    }
    if (semi == std::string_view::npos) {
      break;
    }
    i = semi + 1;
  }
  return out;
}

bool has_auth_token_cookie(std::string_view cookie_header) {
  for (const std::string_view value : cookie_values(cookie_header, k_auth_token_cookie)) {
    if (!value.empty()) {
      return true;
    }
  }
  return false;
}

// ---- Token formats ---------------------------------------------------------------

std::string parse_zm_auth_token_id(std::string_view token) {
  if (token.size() > k_max_route_token) {
    return {};
  }
  const std::size_t first = token.find('_');
  if (first == std::string_view::npos) {
    return {};
  }
  const std::size_t second = token.find('_', first + 1);
  if (second == std::string_view::npos) {
    return {};
  }
  const std::string_view key_version = token.substr(0, first);
  const std::string_view hmac = token.substr(first + 1, second - first - 1);
  const std::string_view hex = token.substr(second + 1);
  if (key_version.empty() || !all_digits(key_version) || hmac.empty() || !all_hex(hmac) ||
      hex.empty() || hex.size() % 2 != 0 || !all_hex(hex)) {
    return {};
  }
  std::string data;
  data.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    data.push_back(static_cast<char>((core::hex_digit_value(hex[i]) << 4) | core::hex_digit_value(hex[i + 1])));
  }

  // name=len:value;name=len:value;... (the last ';' is optional)
  std::optional<std::string_view> id;
  const std::string_view d = data;
  std::size_t i = 0;
  while (i < d.size()) {
    const std::size_t eq = d.find('=', i);
    if (eq == std::string_view::npos || eq == i) {
      return {};
    }
    const std::string_view name = d.substr(i, eq - i);
    std::size_t j = eq + 1;
    std::size_t len = 0;
    const std::size_t digits_start = j;
    while (j < d.size() && d[j] >= '0' && d[j] <= '9') {
      len = len * 10 + static_cast<std::size_t>(d[j] - '0');
      if (len > d.size()) {
        return {};
      }
      ++j;
    }
    if (j == digits_start || j >= d.size() || d[j] != ':') {
      return {};
    }
    ++j;
    if (d.size() - j < len) {
      return {};
    }
    const std::string_view value = d.substr(j, len);
    j += len;
    if (j < d.size()) {
      if (d[j] != ';') {
        return {};
      }
      ++j;
    }
    if (name == "id") {
      if (id) {
        return {};  // two ids: refuse rather than guess
      }
      id = value;
    }
    i = j;
  }
  if (!id || !is_usable_id(*id)) {
    return {};
  }
  return std::string(*id);
}

std::optional<std::string> jwt_subject(std::string_view jwt) {
  jwt = core::trim_ows(jwt);
  if (jwt.empty() || jwt.size() > k_max_route_token) {
    return std::nullopt;
  }
  const std::optional<std::string> json = jwt_payload(jwt);
  if (!json) {
    return std::nullopt;
  }
  std::optional<std::string> sub = json_top_level_string(*json, "sub");
  if (!sub || !is_usable_name(*sub)) {
    return std::nullopt;
  }
  return sub;
}

// ---- Route decisions -----------------------------------------------------------------

RouteKey extract_route(const RequestView& r) {
  const TargetParts parts = split_target(r.target);
  if (std::optional<std::string> user = rest_user(parts.path)) {
    return user_key(std::move(*user));
  }
  if (core::istarts_with(parts.path, k_activesync_prefix) || core::istarts_with(parts.path, k_ews_prefix)) {
    if (std::optional<std::string> user = exchange_user(r, parts.query)) {
      return user_key(std::move(*user));
    }
  }
  if (std::optional<std::string> user = dav_user(parts.path)) {
    return user_key(std::move(*user));
  }
  if (std::optional<std::string> id = auth_token_id(r, parts.query)) {
    return id_key(std::move(*id), false);
  }
  if (std::optional<std::string> id = jwt_id(r, parts.query)) {
    return id_key(std::move(*id), false);
  }
  return RouteKey{};
}

RouteKey extract_admin_route(const RequestView& r) {
  if (std::optional<std::string> id = token_id_from_cookie(r.cookie, k_admin_auth_token_cookie)) {
    return id_key(std::move(*id), true);
  }
  return RouteKey{};
}

std::size_t ip_hash(std::string_view client_ip, std::size_t peers, std::size_t attempt) {
  if (peers == 0) {
    return 0;
  }
  std::string_view ip = client_ip;
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') {
    ip = ip.substr(1, ip.size() - 2);
  }
  ip = ip.substr(0, ip.find('%'));  // IPv6 zone id
  std::array<unsigned char, 16> address{};
  std::string_view bytes = client_ip;  // not an address: hash the text itself
  if (ip.find('\0') == std::string_view::npos) {
    const std::string text(ip);
    if (inet_pton(AF_INET, text.c_str(), address.data()) == 1) {
      bytes = std::string_view(reinterpret_cast<const char*>(address.data()), 4);
    } else if (inet_pton(AF_INET6, text.c_str(), address.data()) == 1) {
      bytes = std::string_view(reinterpret_cast<const char*>(address.data()), 16);
    }
  }
  const std::size_t rounds = (attempt < k_max_ip_hash_attempts ? attempt : k_max_ip_hash_attempts) + 1;
  std::uint32_t hash = 89;
  for (std::size_t round = 0; round < rounds; ++round) {
    for (const char c : bytes) {
      hash = (hash * 113 + static_cast<std::uint32_t>(static_cast<unsigned char>(c))) % 6271;
    }
  }
  return hash % peers;
}

ReadTimeoutKind read_timeout_kind(std::string_view path) {
  path = path.substr(0, path.find('?'));
  if (core::istarts_with(path, k_activesync_prefix) || core::istarts_with(path, k_ews_prefix)) {
    return ReadTimeoutKind::polling;
  }
  if (path.starts_with("/service/soap/NoOpRequest")) {
    return ReadTimeoutKind::noop;
  }
  if (path.starts_with("/service/soap/WaitSetRequest")) {
    return ReadTimeoutKind::waitset;
  }
  return ReadTimeoutKind::read;
}

bool is_long_poll(std::string_view path) {
  return read_timeout_kind(path) != ReadTimeoutKind::read;
}

bool has_raw_crlf_escape(std::string_view target) {
  for (std::size_t i = 0; i < target.size(); ++i) {
    const char c = target[i];
    if (c == '\r' || c == '\n') {
      return true;
    }
    if (c == '%' && target.size() - i >= 3 && target[i + 1] == '0') {
      const char x = core::ascii_lower(target[i + 2]);
      if (x == 'a' || x == 'd') {
        return true;
      }
    }
  }
  return false;
}

}  // namespace zmproxy::proxy::http

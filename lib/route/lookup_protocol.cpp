#include "lib/route/lookup_protocol.hpp"

#include <array>
#include <charconv>

#include "lib/core/strings.hpp"

namespace zmproxy::route {

namespace {

constexpr char k_hex[] = "0123456789ABCDEF";

template <typename Fields>
const typename Fields::value_type::second_type* header(const Fields& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (core::iequals(k, name)) {
      return &v;
    }
  }
  return nullptr;
}

// Appends `v` without CR or LF.
void append_one_line(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c != '\r' && c != '\n') {
      out += c;
    }
  }
}

void append_int(std::string& out, int n) {
  char digits[16];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

std::optional<int> parse_int(std::string_view v) {
  int n = 0;
  v = core::trim(v);
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) {
    return std::nullopt;
  }
  return n;
}

// Header values must never carry a line break: drop CR and LF defensively.
std::string one_line(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c != '\r' && c != '\n') {
      out += c;
    }
  }
  return out;
}

}  // namespace

bool is_mail_protocol(std::string_view p) noexcept {
  return p == "imap" || p == "imapssl" || p == "pop3" || p == "pop3ssl";
}
bool is_web_protocol(std::string_view p) noexcept { return p == "http" || p == "httpssl"; }
bool is_known_protocol(std::string_view p) noexcept {
  return is_mail_protocol(p) || is_web_protocol(p);
}

namespace {

// `s` with every byte that is not printable ASCII, and '%', as %XX.
void append_percent_encoded(std::string& out, std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == '%' || u >= 0x7f) {
      out += '%';
      out += k_hex[u >> 4];
      out += k_hex[u & 15];
    } else {
      out += c;
    }
  }
}

}  // namespace

std::string percent_encode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_percent_encoded(out, s);
  return out;
}

Result<std::string> percent_decode(std::string_view s) {
  auto decoded = core::percent_decode(s, false);
  if (!decoded) {
    return fail(Errc::invalid_argument, "malformed percent escape (a '%' without two hex digits)");
  }
  return std::move(*decoded);
}

namespace {

// `s` %XX-decoded into `out` (its buffer kept); false on a malformed escape,
// as percent_decode.
bool decode_into(std::string& out, std::string_view s) {
  out.clear();
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const int high = s.size() - i < 3 ? -1 : core::hex_digit_value(s[i + 1]);
    const int low = s.size() - i < 3 ? -1 : core::hex_digit_value(s[i + 2]);
    if (high < 0 || low < 0) {
      return false;
    }
    out += static_cast<char>((high << 4) | low);
    i += 2;
  }
  return true;
}

// The request fields a lookup reads, in the order of k_request_fields.
enum RequestField : std::size_t {
  f_user, f_method, f_protocol, f_pass, f_login_attempt, f_client_ip, f_proxy_ip, f_proxy_host,
  f_admin, f_zx, f_auth_id, f_admin_user, f_admin_pass, f_secret, k_request_field_count
};
constexpr std::string_view k_request_fields[k_request_field_count] = {
    "Auth-User",      "Auth-Method",       "Auth-Protocol", "Auth-Pass",       "Auth-Login-Attempt",
    "Client-IP",      "X-Proxy-IP",        "X-Proxy-Host",  "Auth-Zimbra-Admin", "Auth-Zimbra-Zx",
    "Auth-ID",        "Auth-Admin-User",   "Auth-Admin-Pass", k_secret_header};

void assign_lower(std::string& out, std::string_view v) {
  out.assign(v);
  for (char& c : out) {
    c = core::ascii_lower(c);
  }
}

// One pass over the fields: the first of each name (case-insensitive).
template <typename Fields>
Result<void> parse_request_fields(const Fields& h, LookupRequest& r) {
  std::array<std::string_view, k_request_field_count> value{};
  std::array<bool, k_request_field_count> seen{};
  for (const auto& [name, v] : h) {
    for (std::size_t f = 0; f < k_request_field_count; ++f) {
      const std::string_view known = k_request_fields[f];
      if (!seen[f] && name.size() == known.size() && (name == known || core::iequals(name, known))) {
        seen[f] = true;
        value[f] = v;
        break;
      }
    }
  }
  if (!seen[f_user]) {
    return fail(Errc::invalid_argument, "missing header field Auth-User");
  }
  if (!seen[f_method]) {
    return fail(Errc::invalid_argument, "missing header field Auth-Method");
  }
  if (!seen[f_protocol]) {
    return fail(Errc::invalid_argument, "missing header field Auth-Protocol");
  }
  if (!decode_into(r.user, core::trim(value[f_user]))) {
    return fail(Errc::invalid_argument,
                "invalid Auth-User: malformed percent escape (a '%' without two hex digits)");
  }
  assign_lower(r.method, core::trim(value[f_method]));
  assign_lower(r.protocol, core::trim(value[f_protocol]));
  if (!seen[f_pass]) {
    r.password.assign("_password_");
  } else if (!decode_into(r.password, value[f_pass])) {
    r.password.assign(value[f_pass]);
  }
  r.login_attempt = seen[f_login_attempt] ? parse_int(value[f_login_attempt]).value_or(1) : 1;
  auto text = [&](std::string& out, RequestField f) { out.assign(core::trim(value[f])); };
  text(r.client_ip, f_client_ip);
  text(r.proxy_ip, f_proxy_ip);
  text(r.proxy_host, f_proxy_host);
  r.admin = core::iequals(core::trim(value[f_admin]), "true");
  r.zx = !r.admin && core::iequals(core::trim(value[f_zx]), "true");
  text(r.auth_id, f_auth_id);
  text(r.admin_user, f_admin_user);
  text(r.admin_pass, f_admin_pass);
  text(r.secret, f_secret);
  return {};
}

template <typename Fields>
Result<LookupRequest> parse_request(const Fields& h) {
  LookupRequest r;
  if (auto ok = parse_request_fields(h, r); !ok) {
    return tl::unexpected(ok.error());
  }
  return r;
}

}  // namespace

Result<LookupRequest> parse_lookup_request(const Headers& h) { return parse_request(h); }
Result<LookupRequest> parse_lookup_request(const HeaderViews& h) { return parse_request(h); }
Result<void> parse_lookup_request(const HeaderViews& h, LookupRequest& out) {
  return parse_request_fields(h, out);
}

void LookupResponse::assign_error(std::string_view text, int wait) {
  ok = false;
  status.assign(text);
  server.clear();
  port = 0;
  user.clear();
  cache_alias = false;
  wait_seconds = wait;
  auth_id.clear();
  token.clear();
}

void LookupResponse::assign_route(std::string_view to_server, int to_port, std::string_view to_user) {
  ok = true;
  status.assign("OK");
  server.assign(to_server);
  port = to_port;
  user.assign(to_user);
  cache_alias = false;
  wait_seconds = 0;
  auth_id.clear();
  token.clear();
}

void append_lookup_response(std::string& out, const LookupResponse& r) {
  if (!r.ok) {
    out += "Auth-Status: ";
    append_one_line(out, r.status);
    out += "\r\nAuth-Wait: ";
    append_int(out, r.wait_seconds);
    out += "\r\n";
    return;
  }
  out += "Auth-Status: OK\r\nAuth-Server: ";
  append_one_line(out, r.server);
  out += "\r\nAuth-Port: ";
  append_int(out, r.port);
  out += r.cache_alias ? "\r\nAuth-Cache-Alias: TRUE\r\nAuth-User: " : "\r\nAuth-Cache-Alias: FALSE\r\nAuth-User: ";
  append_percent_encoded(out, r.user);
  out += "\r\n";
  if (!r.auth_id.empty()) {
    out += "Auth-ID: ";
    append_one_line(out, r.auth_id);
    out += "\r\n";
  }
  if (!r.token.empty()) {
    out += "Auth-Pass: ";
    append_one_line(out, r.token);
    out += "\r\n";
  }
}

std::string format_lookup_response(const LookupResponse& r) {
  std::string out;
  append_lookup_response(out, r);
  return out;
}

std::string format_lookup_request(const LookupRequest& r, std::string_view host) {
  std::string out;
  out += "Host: " + one_line(host) + "\r\n";
  out += "Auth-Method: " + one_line(r.method) + "\r\n";
  out += "Auth-User: " + percent_encode(r.user) + "\r\n";
  out += "Auth-Pass: _password_\r\n";
  out += "Auth-Protocol: " + one_line(r.protocol) + "\r\n";
  out += "Auth-Login-Attempt: " + std::to_string(r.login_attempt) + "\r\n";
  out += "X-Proxy-IP: " + one_line(r.proxy_ip) + "\r\n";
  out += "Client-IP: " + one_line(r.client_ip) + "\r\n";
  if (r.admin) {
    out += "Auth-Zimbra-Admin: True\r\n";
  } else if (r.zx) {
    out += "Auth-Zimbra-Zx: True\r\n";
  }
  if (!r.proxy_host.empty()) {
    out += "X-Proxy-Host: " + one_line(r.proxy_host) + "\r\n";
  }
  if (!r.secret.empty()) {
    out += std::string(k_secret_header) + ": " + one_line(r.secret) + "\r\n";
  }
  if (!r.auth_id.empty()) {
    out += "Auth-ID: " + one_line(r.auth_id) + "\r\n";
  }
  if (!r.admin_user.empty()) {
    out += "Auth-Admin-User: " + one_line(r.admin_user) + "\r\n";
  }
  if (!r.admin_pass.empty()) {
    out += "Auth-Admin-Pass: " + one_line(r.admin_pass) + "\r\n";
  }
  return out;
}

Result<LookupResponse> parse_lookup_response(const Headers& h) {
  LookupResponse r;
  const std::string* status = header(h, "Auth-Status");
  if (status == nullptr) {
    return fail(Errc::invalid_argument, "invalid response from lookup handler: no Auth-Status");
  }
  r.status = std::string(core::trim(*status));
  if (r.status != "OK") {
    const auto* wait = header(h, "Auth-Wait");
    r.wait_seconds = wait == nullptr ? 0 : parse_int(*wait).value_or(0);
    return r;
  }
  const std::string* server = header(h, "Auth-Server");
  const std::string* port = header(h, "Auth-Port");
  const int p = port == nullptr ? 0 : parse_int(*port).value_or(0);
  if (server == nullptr || core::trim(*server).empty() || p <= 0 || p > 65535) {
    return fail(Errc::invalid_argument, "invalid route from lookup handler: no usable Auth-Server/Auth-Port");
  }
  r.ok = true;
  r.server = std::string(core::trim(*server));
  r.port = p;
  if (const auto* u = header(h, "Auth-User")) {
    auto d = percent_decode(core::trim(*u));
    r.user = d ? *d : std::string(core::trim(*u));
  }
  if (const auto* a = header(h, "Auth-Cache-Alias")) {
    r.cache_alias = core::iequals(core::trim(*a), "TRUE");
  }
  if (const auto* v = header(h, "Auth-ID")) {
    r.auth_id = std::string(core::trim(*v));
  }
  if (const auto* v = header(h, "Auth-Pass")) {
    r.token = std::string(core::trim(*v));
  }
  return r;
}

}  // namespace zmproxy::route

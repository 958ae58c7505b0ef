#include "lib/route/lookup_protocol.hpp"

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

template <typename Fields>
Result<LookupRequest> parse_request_fields(const Fields& h) {
  LookupRequest r;
  const auto* user = header(h, "Auth-User");
  const auto* method = header(h, "Auth-Method");
  const auto* protocol = header(h, "Auth-Protocol");
  if (user == nullptr) {
    return fail(Errc::invalid_argument, "missing header field Auth-User");
  }
  if (method == nullptr) {
    return fail(Errc::invalid_argument, "missing header field Auth-Method");
  }
  if (protocol == nullptr) {
    return fail(Errc::invalid_argument, "missing header field Auth-Protocol");
  }
  auto decoded = percent_decode(core::trim(*user));
  if (!decoded) {
    return fail(Errc::invalid_argument, "invalid Auth-User: " + decoded.error().message);
  }
  r.user = std::move(*decoded);
  r.method = core::to_lower(core::trim(*method));
  r.protocol = core::to_lower(core::trim(*protocol));
  if (const auto* v = header(h, "Auth-Pass")) {
    auto p = percent_decode(*v);
    r.password = p ? std::move(*p) : std::string(*v);
  }
  if (const auto* v = header(h, "Auth-Login-Attempt")) {
    r.login_attempt = parse_int(*v).value_or(1);
  }
  auto text = [&](std::string_view name) {
    const auto* v = header(h, name);
    return v == nullptr ? std::string() : std::string(core::trim(*v));
  };
  r.client_ip = text("Client-IP");
  r.proxy_ip = text("X-Proxy-IP");
  r.proxy_host = text("X-Proxy-Host");
  r.admin = core::iequals(text("Auth-Zimbra-Admin"), "true");
  r.zx = !r.admin && core::iequals(text("Auth-Zimbra-Zx"), "true");
  r.auth_id = text("Auth-ID");
  r.admin_user = text("Auth-Admin-User");
  r.admin_pass = text("Auth-Admin-Pass");
  r.secret = text(k_secret_header);
  return r;
}

}  // namespace

Result<LookupRequest> parse_lookup_request(const Headers& h) { return parse_request_fields(h); }
Result<LookupRequest> parse_lookup_request(const HeaderViews& h) { return parse_request_fields(h); }

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

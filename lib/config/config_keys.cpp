#include "lib/config/config_keys.hpp"

#include "lib/config/config_reader.hpp"
#include "lib/config/domain_client_certs.hpp"
#include "lib/core/address.hpp"
#include "lib/core/strings.hpp"
#include "lib/core/toml_guard.hpp"
#include "lib/net/address_block.hpp"

#include <algorithm>
#include <iterator>

namespace zmproxy::config {

namespace {

// One key of section type S: its name and what reads (and checks) it.
template <class S>
struct Key {
  const char* name;
  // `section` is the key's table (some errors point at it), `value` the key's value.
  void (*read)(Reader& r, const toml::table& section, const toml::node& value,
               const std::string& path, S& into);
};

template <class>
struct MemberOf;
template <class S, class T>
struct MemberOf<T S::*> {
  using Section = S;
};

// The plain keys: a typed read into one member.
template <auto Member>
void field(Reader& r, const toml::table&, const toml::node& n, const std::string& path,
           typename MemberOf<decltype(Member)>::Section& into) {
  r.read(n, path, into.*Member);
}

// The keys with a check of their own.

void read_starttls(Reader& r, const toml::table&, const toml::node& n, const std::string& path,
                   MailSection& m) {
  std::string v;
  if (!r.read(n, path, v)) {
    return;
  }
  if (v == "on") {
    m.starttls = StartTls::on;
  } else if (v == "off") {
    m.starttls = StartTls::off;
  } else if (v == "only") {
    m.starttls = StartTls::only;
  } else {
    r.fail_at(n, path, "expected \"on\", \"off\" or \"only\"");
  }
}

void read_domain_certificates(Reader& r, const toml::table&, const toml::node& n,
                              const std::string& path, TlsSection& t) {
  if (!r.read(n, path, t.domain_certificates)) {
    return;
  }
  for (const std::string& entry : t.domain_certificates) {
    if (core::split(std::string(core::trim(entry)), ' ').size() != 3) {
      r.fail_at(n, path, "'" + entry + "' is not 'hostname certificate key'");
    }
  }
}

void read_mode(Reader& r, const toml::table&, const toml::node& n, const std::string& path,
               HttpSection& h) {
  if (r.read(n, path, h.mode) && h.mode != "http" && h.mode != "https" && h.mode != "both" &&
      h.mode != "redirect" && h.mode != "mixed") {
    r.fail_at(n, path, "expected http, https, both, redirect or mixed (zimbraReverseProxyMailMode)");
  }
}

void read_client_cert_mode(Reader& r, const toml::table&, const toml::node& n, const std::string& path,
                           HttpSection& h) {
  if (r.read(n, path, h.client_cert_mode) && h.client_cert_mode != "off" && h.client_cert_mode != "on" &&
      h.client_cert_mode != "optional") {
    r.fail_at(n, path, "expected off, on or optional (zimbraReverseProxyClientCertMode)");
  }
}

void read_domain_client_certs(Reader& r, const toml::table&, const toml::node& n, const std::string& path,
                              HttpSection& h) {
  if (!r.read(n, path, h.domain_client_certs)) {
    return;
  }
  for (const std::string& entry : h.domain_client_certs) {
    if (!parse_domain_client_cert(entry)) {
      r.fail_at(n, path, "'" + entry + "' is not 'hostname off|on|optional [ca-file]'");
    }
  }
}

// host:port entries; the error points at the [http] table.
template <auto Member>
void read_upstreams(Reader& r, const toml::table& section, const toml::node& n,
                    const std::string& path, HttpSection& h) {
  if (!r.read(n, path, h.*Member)) {
    return;
  }
  for (const std::string& u : h.*Member) {
    if (const core::ParsedAddress a = core::parse_address(u); !a) {
      r.fail_at(section, path, a.error);
    }
  }
}

void read_upload_max(Reader& r, const toml::table&, const toml::node& n, const std::string& path,
                     HttpSection& h) {
  r.read_count(n, path, h.upload_max, "expected a number of bytes (0 = no limit)");
}

void read_body_min_rate(Reader& r, const toml::table&, const toml::node& n,
                        const std::string& path, HttpSection& h) {
  r.read_count(n, path, h.body_min_rate, "expected bytes per second (0 = no minimum rate)");
}

void read_response_headers(Reader& r, const toml::table&, const toml::node& n,
                           const std::string& path, HttpSection& h) {
  if (!r.read(n, path, h.response_headers)) {
    return;
  }
  for (const std::string& line : h.response_headers) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0 || line.find_first_of("\r\n") != std::string::npos) {
      r.fail_at(n, path, "'" + line + "' is not a 'Name: value' header line");
    }
  }
}

void read_domain_public_services(Reader& r, const toml::table&, const toml::node& n,
                                 const std::string& path, HttpSection& h) {
  if (!r.read(n, path, h.domain_public_services)) {
    return;
  }
  for (const std::string& entry : h.domain_public_services) {
    const auto words = core::split(std::string(core::trim(entry)), ' ');
    if (words.size() < 2 || words.size() > 4) {
      r.fail_at(n, path, "'" + entry + "' is not 'domain hostname [protocol [port]]'");
    }
  }
}

void read_max_fails(Reader& r, const toml::table&, const toml::node& n, const std::string& path,
                    HttpSection& h) {
  std::int64_t v = 0;
  if (r.read_count(n, path, v, "expected a number of failures (0 = never left out; zimbraMailProxyMaxFails)")) {
    if (v > 1'000'000) {
      r.fail_at(n, path, "expected at most 1000000 failures (zimbraMailProxyMaxFails)");
      return;
    }
    h.max_fails = static_cast<int>(v);
  }
}

// "" or an absolute http(s) URL of visible ASCII: it becomes a Location.
void read_error_handler_url(Reader& r, const toml::table&, const toml::node& n, const std::string& path,
                            HttpSection& h) {
  if (!r.read(n, path, h.error_handler_url) || h.error_handler_url.empty()) {
    return;
  }
  const std::string& u = h.error_handler_url;
  const bool visible = std::all_of(u.begin(), u.end(), [](char ch) {
    return static_cast<unsigned char>(ch) > 0x20 && static_cast<unsigned char>(ch) < 0x7f;
  });
  if (!visible || !(core::istarts_with(u, "http://") || core::istarts_with(u, "https://")) ||
      u.find('#') != std::string::npos) {
    r.fail_at(n, path,
              "'" + u + "' is not an http:// or https:// URL without spaces or a fragment "
              "(zmprov mcf zimbraReverseProxyErrorHandlerURL ...)");
  }
}

// The localconfig string as rendered ("a, b c"), or an array.
void read_trusted_proxies(Reader& r, const toml::table&, const toml::node& n,
                          const std::string& path, HttpSection& h) {
  if (auto listed = n.value<std::string>()) {
    h.trusted_proxies = net::split_address_list(*listed);
  } else if (!r.read(n, path, h.trusted_proxies)) {
    return;
  }
  for (const std::string& entry : h.trusted_proxies) {
    if (!net::is_address_or_cidr(entry)) {
      r.fail_at(n, path,
                "'" + entry + "' is not an address or CIDR (zmlocalconfig -e zmproxy_trusted_proxies=...)");
    }
  }
}

// The localconfig string as rendered ("imap, imaps"), or an array; listener
// names only.
void read_proxy_protocol(Reader& r, const toml::table&, const toml::node& n,
                         const std::string& path, ServerSection& s) {
  if (auto listed = n.value<std::string>()) {
    s.proxy_protocol = net::split_address_list(*listed);
  } else if (!r.read(n, path, s.proxy_protocol)) {
    return;
  }
  static constexpr std::string_view k_listeners[] = {"imap", "imaps", "pop3",  "pop3s",
                                                     "http", "https", "admin", "certauth"};
  for (const std::string& name : s.proxy_protocol) {
    if (std::find(std::begin(k_listeners), std::end(k_listeners), name) == std::end(k_listeners)) {
      r.fail_at(n, path,
                "'" + name + "' is not a listener: expected imap, imaps, pop3, pop3s, http, https, "
                "admin or certauth (zmlocalconfig -e zmproxy_proxy_protocol_listeners=...)");
      return;
    }
  }
}

// Throttle windows: whole seconds, at least one (memcached TTLs).
template <auto Member>
void read_window(Reader& r,
                 const toml::table&,
                 const toml::node& n,
                 const std::string& path,
                 ThrottleSection& t) {
  milliseconds& out = t.*Member;
  if (r.read(n, path, out) &&
      (out.count() < 1000 || out.count() % 1000 != 0 || out.count() > 2'592'000'000)) {
    r.fail_at(n, path, "expected whole seconds from 1s to 30 days");
  }
}

void read_whitelist(Reader& r,
                    const toml::table&,
                    const toml::node& n,
                    const std::string& path,
                    ThrottleSection& t) {
  std::vector<std::string> values;
  if (!r.read(n, path, values)) {
    return;
  }
  t.whitelist.clear();
  for (const std::string& value : values) {
    for (std::string& entry : net::split_address_list(value)) {
      if (!net::is_address_or_cidr(entry)) {
        r.fail_at(
            n, path,
            "'" + entry +
                "' is not an address or CIDR (zmprov mcf -zimbraReverseProxyIPThrottleWhitelist " +
                entry + ")");
        return;
      }
      t.whitelist.push_back(std::move(entry));
    }
  }
}

// The tables, in the order of man/zmproxy.conf.5.

const Key<ServerSection> k_server_keys[] = {
    {"name", field<&ServerSection::name>},
    {"bind_address", field<&ServerSection::bind_address>},
    {"workers", field<&ServerSection::workers>},
    {"worker_connections", field<&ServerSection::worker_connections>},
    {"log_file", field<&ServerSection::log_file>},
    {"log_level", field<&ServerSection::log_level>},
    {"access_log", field<&ServerSection::access_log>},
    {"drain_timeout", field<&ServerSection::drain_timeout>},
    {"user", field<&ServerSection::user>},
    {"max_connections_per_ip", field<&ServerSection::max_connections_per_ip>},
    {"proxy_protocol", read_proxy_protocol},
    {"kernel_relay", field<&ServerSection::kernel_relay>},
    {"control_address", field<&ServerSection::control_address>},
    {"control_port", field<&ServerSection::control_port>},
    {"control_secret", field<&ServerSection::control_secret>},
};

const Key<TlsSection> k_tls_keys[] = {
    {"certificate", field<&TlsSection::certificate>},
    {"key", field<&TlsSection::key>},
    {"protocols", field<&TlsSection::protocols>},
    {"ciphers", field<&TlsSection::ciphers>},
    {"domain_certificates", read_domain_certificates},
    {"ktls", field<&TlsSection::ktls>},
};

const Key<RouteSection> k_route_keys[] = {
    {"handlers", field<&RouteSection::handlers>},
    {"memcached", field<&RouteSection::memcached>},
    {"caching", field<&RouteSection::caching>},
    {"cache_ttl", field<&RouteSection::cache_ttl>},
    {"lookup_timeout", field<&RouteSection::lookup_timeout>},
    {"handler_retry", field<&RouteSection::handler_retry>},
    {"memcached_timeout", field<&RouteSection::memcached_timeout>},
    {"secret", field<&RouteSection::secret>},
    {"mailbox_servers", field<&RouteSection::mailbox_servers>},
    {"local_cache_size", field<&RouteSection::local_cache_size>},
};

const Key<ProxyConfig> k_mail_keys[] = {
    {"enabled", field<&ProxyConfig::mail_enabled>},
};

// [imap] and [pop3]
const Key<MailSection> k_mail_protocol_keys[] = {
    {"enabled", field<&MailSection::enabled>},
    {"port", field<&MailSection::port>},
    {"ssl_enabled", field<&MailSection::ssl_enabled>},
    {"ssl_port", field<&MailSection::ssl_port>},
    {"starttls", read_starttls},
    {"capabilities", field<&MailSection::capabilities>},
    {"sasl_plain", field<&MailSection::sasl_plain>},
    {"expose_version", field<&MailSection::expose_version>},
    {"idle_timeout", field<&MailSection::idle_timeout>},
    {"authenticated_idle_timeout", field<&MailSection::authenticated_idle_timeout>},
    {"send_client_address", field<&MailSection::send_client_address>},
    {"login_timeout", field<&MailSection::login_timeout>},
    {"sasl_gssapi", field<&MailSection::sasl_gssapi>},
};

const Key<UpstreamSection> k_upstream_keys[] = {
    {"ssl", field<&UpstreamSection::ssl>},
    {"connect_timeout", field<&UpstreamSection::connect_timeout>},
    {"pass_errors", field<&UpstreamSection::pass_errors>},
    {"auth_wait", field<&UpstreamSection::auth_wait>},
    {"ca_file", field<&UpstreamSection::ca_file>},
    {"allow_untrusted_certs", field<&UpstreamSection::allow_untrusted_certs>},
    {"proxy_protocol", field<&UpstreamSection::proxy_protocol>},
};

const Key<HttpSection> k_http_keys[] = {
    {"enabled", field<&HttpSection::enabled>},
    {"mode", read_mode},
    {"port", field<&HttpSection::port>},
    {"ssl_port", field<&HttpSection::ssl_port>},
    {"strict_server_name", field<&HttpSection::strict_server_name>},
    {"server_names", field<&HttpSection::server_names>},
    {"upstreams", read_upstreams<&HttpSection::upstreams>},
    {"connect_timeout", field<&HttpSection::connect_timeout>},
    {"read_timeout", field<&HttpSection::read_timeout>},
    {"send_timeout", field<&HttpSection::send_timeout>},
    {"poll_timeout", field<&HttpSection::poll_timeout>},
    {"client_timeout", field<&HttpSection::client_timeout>},
    {"upload_max", read_upload_max},
    {"response_headers", read_response_headers},
    {"max_header_size", field<&HttpSection::max_header_size>},
    {"admin_enabled", field<&HttpSection::admin_enabled>},
    {"admin_port", field<&HttpSection::admin_port>},
    {"admin_upstreams", read_upstreams<&HttpSection::admin_upstreams>},
    {"public_hostname", field<&HttpSection::public_hostname>},
    {"public_protocol", field<&HttpSection::public_protocol>},
    {"public_port", field<&HttpSection::public_port>},
    {"domain_public_services", read_domain_public_services},
    {"trusted_proxies", read_trusted_proxies},
    {"body_timeout", field<&HttpSection::body_timeout>},
    {"body_min_rate", read_body_min_rate},
    {"tunnel_idle_timeout", field<&HttpSection::tunnel_idle_timeout>},
    {"max_fails", read_max_fails},
    {"fail_timeout", field<&HttpSection::fail_timeout>},
    {"noop_timeout", field<&HttpSection::noop_timeout>},
    {"waitset_timeout", field<&HttpSection::waitset_timeout>},
    {"error_handler_url", read_error_handler_url},
    {"client_cert_mode", read_client_cert_mode},
    {"client_cert_ca", field<&HttpSection::client_cert_ca>},
    {"client_cert_depth", field<&HttpSection::client_cert_depth>},
    {"certauth_enabled", field<&HttpSection::certauth_enabled>},
    {"certauth_port", field<&HttpSection::certauth_port>},
    {"http2", field<&HttpSection::http2>},
    {"domain_client_certs", read_domain_client_certs},
};

const Key<ThrottleSection> k_throttle_keys[] = {
    {"ip_limit", field<&ThrottleSection::ip_limit>},
    {"ip_window", read_window<&ThrottleSection::ip_window>},
    {"imap_ip_limit", field<&ThrottleSection::imap_ip_limit>},
    {"imap_ip_window", read_window<&ThrottleSection::imap_ip_window>},
    {"pop3_ip_limit", field<&ThrottleSection::pop3_ip_limit>},
    {"pop3_ip_window", read_window<&ThrottleSection::pop3_ip_window>},
    {"user_limit", field<&ThrottleSection::user_limit>},
    {"user_window", read_window<&ThrottleSection::user_window>},
    {"ip_message", field<&ThrottleSection::ip_message>},
    {"user_message", field<&ThrottleSection::user_message>},
    {"whitelist", read_whitelist},
    {"failed_logins", field<&ThrottleSection::failed_logins>},
    {"failed_window", read_window<&ThrottleSection::failed_window>},
    {"failed_free", field<&ThrottleSection::failed_free>},
    {"failed_delay", field<&ThrottleSection::failed_delay>},
    {"failed_max_delay", field<&ThrottleSection::failed_max_delay>},
    {"failed_lock", field<&ThrottleSection::failed_lock>},
};

// Checked together in kerberos_check.cpp, only when GSSAPI is on.
const Key<KerberosSection> k_kerberos_keys[] = {
    {"keytab", field<&KerberosSection::keytab>},
    {"principal_from_interface_address",
     field<&KerberosSection::principal_from_interface_address>},
    {"default_realm", field<&KerberosSection::default_realm>},
    {"admin_user", field<&KerberosSection::admin_user>},
    {"admin_password", field<&KerberosSection::admin_password>},
    {"upstream_login", field<&KerberosSection::upstream_login>},
    {"master_user", field<&KerberosSection::master_user>},
    {"master_password", field<&KerberosSection::master_password>},
};

// Every key of `t` must be in `keys` (all are checked before any is read);
// then each key present is read, in table order.
template <class S, std::size_t N>
void read_keys(Reader& r, const toml::table& t, const std::string& section,
               const Key<S> (&keys)[N], S& into) {
  for (const auto& [k, v] : t) {
    const std::string_view name = k.str();
    if (std::none_of(std::begin(keys), std::end(keys),
                     [&](const Key<S>& key) { return name == key.name; })) {
      r.fail_at(v, section + "." + std::string(name),
                "unknown key; see zmproxy.conf(5) for the keys of [" + section + "]");
    }
  }
  for (const Key<S>& key : keys) {
    if (const toml::node* n = t.get(key.name)) {
      key.read(r, t, *n, section + "." + key.name, into);
    }
  }
}

// One [section]: its name, its keys, and where they go.
struct Section {
  const char* name;
  void (*read)(Reader& r, const toml::table& t, ProxyConfig& c);
  void (*names)(std::vector<std::string>& out);
};

template <class S, std::size_t N>
void add_names(std::vector<std::string>& out, const char* section, const Key<S> (&keys)[N]) {
  for (const Key<S>& key : keys) {
    out.push_back(std::string(section) + "." + key.name);
  }
}

#define ZMPROXY_SECTION(name, keys, into)                                             \
  Section {                                                                           \
    name, [](Reader& r, const toml::table& t, ProxyConfig& c) {                       \
      read_keys(r, t, name, keys, into);                                   \
    },                                                                                \
        [](std::vector<std::string>& out) { add_names(out, name, keys); }             \
  }

// In the order they are read (the first error wins).
const Section k_sections[] = {
    ZMPROXY_SECTION("server", k_server_keys, c.server),
    ZMPROXY_SECTION("tls", k_tls_keys, c.tls),
    ZMPROXY_SECTION("route", k_route_keys, c.route),
    ZMPROXY_SECTION("mail", k_mail_keys, c),
    ZMPROXY_SECTION("imap", k_mail_protocol_keys, c.imap),
    ZMPROXY_SECTION("pop3", k_mail_protocol_keys, c.pop3),
    ZMPROXY_SECTION("upstream", k_upstream_keys, c.upstream),
    ZMPROXY_SECTION("http", k_http_keys, c.http),
    ZMPROXY_SECTION("throttle", k_throttle_keys, c.throttle),
    ZMPROXY_SECTION("kerberos", k_kerberos_keys, c.kerberos),
};

#undef ZMPROXY_SECTION

}  // namespace

Result<void> read_config_text(std::string_view text, const std::filesystem::path& file,
                              ProxyConfig& c) {
  if (const std::size_t line = core::toml_unsafe_line(text)) {
    return fail(Errc::parse_error,
                file.string() + ":" + std::to_string(line) +
                    ": a non-ASCII character outside a quoted string; quote the value");
  }
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return fail(Errc::parse_error, file.string() + ":" + std::to_string(at.line) + ":" +
                                       std::to_string(at.column) + ": " +
                                       core::one_line_text(e.description()));
  }
  Reader r(file.string());
  for (const auto& [k, v] : root) {
    const std::string_view name = k.str();
    if (std::none_of(std::begin(k_sections), std::end(k_sections),
                     [&](const Section& s) { return name == s.name; })) {
      r.fail_at(v, std::string(name), "unknown section; see zmproxy.conf(5) for the sections");
    }
  }
  for (const Section& s : k_sections) {
    const toml::node* n = root.get(s.name);
    if (n == nullptr) {
      continue;
    }
    if (const toml::table* t = n->as_table()) {
      s.read(r, *t, c);
    } else {
      r.fail_at(*n, s.name, "expected a [section]");
    }
  }
  if (!r.error().empty()) {
    return fail(Errc::invalid_argument, r.error());
  }
  return {};
}

std::vector<std::string> config_key_names() {
  std::vector<std::string> out;
  for (const Section& s : k_sections) {
    s.names(out);
  }
  return out;
}

}  // namespace zmproxy::config

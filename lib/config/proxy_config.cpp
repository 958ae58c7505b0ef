#include "lib/config/proxy_config.hpp"

#include <functional>
#include <set>

#include "lib/config/config_keys.hpp"
#include "lib/config/domain_client_certs.hpp"
#include "lib/config/kerberos_check.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/route/known_servers.hpp"

namespace zmproxy::config {

namespace {

const std::vector<std::string> k_imap_caps = {
    "IMAP4rev1", "ACL",      "BINARY",     "CATENATE",      "CHILDREN",   "CONDSTORE",
    "ENABLE",    "ESEARCH",  "ESORT",      "I18NLEVEL=1",   "ID",         "IDLE",
    "LIST-EXTENDED", "LIST-STATUS", "LITERAL+", "MULTIAPPEND", "NAMESPACE", "QRESYNC",
    "QUOTA",     "RIGHTS=ektx", "SASL-IR", "SEARCHRES",     "SORT",       "THREAD=ORDEREDSUBJECT",
    "UIDPLUS",   "UNSELECT", "WITHIN",     "XLIST"};
const std::vector<std::string> k_pop3_caps = {"TOP", "USER", "UIDL", "EXPIRE 31 USER", "XOIP"};

// Checks that span keys; `f` is "<file>: ".
Result<void> check_limits(const ProxyConfig& c, const std::string& f) {
  for (const auto& [key, d] : {std::pair<const char*, milliseconds>{"imap.idle_timeout", c.imap.idle_timeout},
                               {"imap.authenticated_idle_timeout", c.imap.authenticated_idle_timeout},
                               {"pop3.idle_timeout", c.pop3.idle_timeout},
                               {"pop3.authenticated_idle_timeout", c.pop3.authenticated_idle_timeout},
                               {"imap.login_timeout", c.imap.login_timeout},
                               {"pop3.login_timeout", c.pop3.login_timeout},
                               {"http.client_timeout", c.http.client_timeout},
                               {"http.body_timeout", c.http.body_timeout},
                               {"http.tunnel_idle_timeout", c.http.tunnel_idle_timeout},
                               {"http.noop_timeout", c.http.noop_timeout},
                               {"http.waitset_timeout", c.http.waitset_timeout}}) {
    if (d.count() <= 0) {
      return fail(Errc::invalid_argument, f + key + " must be longer than 0");
    }
  }
  if (c.http.client_cert_depth < 1 || c.http.client_cert_depth > 100) {
    return fail(Errc::invalid_argument,
                f + "http.client_cert_depth must be 1..100 (localconfig zmproxy_client_cert_verify_depth)");
  }
  if (c.http.enabled && c.http.client_cert_mode != "off" && c.http.client_cert_ca.empty()) {
    return fail(Errc::invalid_argument,
                f + "http.client_cert_mode is " + c.http.client_cert_mode +
                    " but http.client_cert_ca is empty: no client certificate can be verified; set "
                    "zimbraReverseProxyClientCertCA to the PEM of the CA that issues them");
  }
  for (const DomainClientCert& d : domain_client_certs(c.http)) {
    if (c.http.enabled && d.mode != "off" && d.ca.empty() && c.http.client_cert_ca.empty()) {
      return fail(Errc::invalid_argument,
                  f + "http.domain_client_certs: " + d.host + " has client certificates " + d.mode +
                      " but neither its own CA nor http.client_cert_ca; set the domain's "
                      "zimbraReverseProxyClientCertCA (or the global one) to the PEM of the CA that issues them");
    }
  }
  if (certauth_listener(c.http) && (c.kerberos.admin_user.empty() || c.kerberos.admin_password.empty())) {
    return fail(Errc::invalid_argument,
                f + "the certauth listener's lookups need kerberos.admin_user and kerberos.admin_password "
                    "(localconfig zm_lookup_master_auth_username and ldap_nginx_password: an admin "
                    "account's name and password)");
  }
  if (c.server.workers < 1 || c.server.workers > 16) {
    return fail(Errc::invalid_argument, f + "server.workers must be 1..16 (zimbraReverseProxyWorkerProcesses)");
  }
  if (c.server.worker_connections < 1 || c.server.worker_connections > 40960) {
    return fail(Errc::invalid_argument,
                f + "server.worker_connections must be 1..40960 (zimbraReverseProxyWorkerConnections)");
  }
  // Issue 13 item 4: the memcached route allow-list is host:port entries.
  if (auto known = route::KnownServers::build(c.route.mailbox_servers, nullptr); !known) {
    return fail(Errc::invalid_argument, f + known.error().message);
  }
  if (c.server.max_connections_per_ip < 0 || c.server.max_connections_per_ip > 1'000'000) {
    return fail(Errc::invalid_argument,
                f + "server.max_connections_per_ip must be 0 (no cap) to 1000000 "
                    "(localconfig zmproxy_max_connections_per_ip)");
  }
  if (!c.server.proxy_protocol.empty() && c.http.trusted_proxies.empty()) {
    return fail(Errc::invalid_argument,
                f + "server.proxy_protocol names listeners but http.trusted_proxies is empty, so "
                    "every connection to them would be refused; name the balancers "
                    "(zmlocalconfig -e zmproxy_trusted_proxies=...)");
  }
  const ThrottleSection& t = c.throttle;
  if (t.failed_delay.count() < 0 || t.failed_max_delay < t.failed_delay ||
      t.failed_max_delay > std::chrono::minutes(5)) {
    return fail(
        Errc::invalid_argument,
        f + "throttle.failed_max_delay must be at least throttle.failed_delay and at most 300s "
            "(localconfig zmproxy_login_failure_delay, zmproxy_login_failure_max_delay)");
  }
  return {};
}

// Every enabled listener has a port of its own.
Result<void> check_ports(const ProxyConfig& c, const std::string& f) {
  std::set<int> ports;
  const std::pair<const char*, int> listeners[] = {
      {"imap.port", c.mail_enabled && c.imap.enabled ? c.imap.port : -1},
      {"imap.ssl_port", c.mail_enabled && c.imap.ssl_enabled ? c.imap.ssl_port : -1},
      {"pop3.port", c.mail_enabled && c.pop3.enabled ? c.pop3.port : -1},
      {"pop3.ssl_port", c.mail_enabled && c.pop3.ssl_enabled ? c.pop3.ssl_port : -1},
      {"http.port", c.http.enabled && c.http.mode != "https" ? c.http.port : -1},
      {"http.ssl_port", c.http.enabled && c.http.mode != "http" ? c.http.ssl_port : -1},
      {"http.admin_port", c.http.admin_enabled ? c.http.admin_port : -1},
      {"http.certauth_port", certauth_listener(c.http) ? c.http.certauth_port : -1}};
  for (const auto& [key, port] : listeners) {
    if (port < 0) {
      continue;
    }
    if (port > 65535) {
      return fail(Errc::invalid_argument, f + key + " = " + std::to_string(port) + " is not a port (0..65535)");
    }
    if (port != 0 && !ports.insert(port).second) {
      return fail(Errc::invalid_argument, f + key + " = " + std::to_string(port) +
                                              " is used by another listener; give each its own port");
    }
  }
  return {};
}

}  // namespace

bool certauth_listener(const HttpSection& h) noexcept {
  return h.enabled && h.mode != "http" && h.client_cert_mode != "off" && h.certauth_enabled;
}

std::filesystem::path ProxyConfig::path(const std::string& p) const {
  const std::filesystem::path fp(p);
  return fp.is_absolute() ? fp : home / fp;
}

ProxyConfig default_config() {
  ProxyConfig c;
  c.imap.port = 143;
  c.imap.ssl_port = 993;
  c.imap.capabilities = k_imap_caps;
  c.imap.authenticated_idle_timeout = milliseconds((1800 + 300) * 1000);
  c.pop3.port = 110;
  c.pop3.ssl_port = 995;
  c.pop3.capabilities = k_pop3_caps;
  c.pop3.authenticated_idle_timeout = milliseconds(60'000);
  return c;
}

Result<std::shared_ptr<const ProxyConfig>> parse_config(std::string_view text,
                                                        const std::filesystem::path& file,
                                                        const std::filesystem::path& home) {
  auto cfg = std::make_shared<ProxyConfig>(default_config());
  cfg->home = home;
  cfg->file = file;
  cfg->version = std::to_string(std::hash<std::string_view>{}(text));
  ZMPROXY_TRY(read_config_text(text, file, *cfg));
  // Zimbra's fallbacks for empty capability lists.
  if (cfg->imap.capabilities.empty()) {
    cfg->imap.capabilities = {"IMAP4rev1", "ID", "LITERAL+", "SASL-IR", "IDLE", "NAMESPACE"};
  }
  if (cfg->pop3.capabilities.empty()) {
    cfg->pop3.capabilities = {"TOP", "USER", "UIDL", "EXPIRE 31 USER"};
  }
  const std::string f = file.string() + ": ";
  ZMPROXY_TRY(check_limits(*cfg, f));
  ZMPROXY_TRY(check_ports(*cfg, f));
  ZMPROXY_TRY(check_kerberos(*cfg, f));
  return std::shared_ptr<const ProxyConfig>(std::move(cfg));
}

Result<std::shared_ptr<const ProxyConfig>> load_config(const std::filesystem::path& file,
                                                       const std::filesystem::path& home) {
  auto text = core::read_file(file);
  if (!text) {
    return fail(text.error().code, text.error().message +
                                       "; write it (see zmproxy.conf(5)) or let zmconfigd render it");
  }
  return parse_config(*text, file, home);
}

}  // namespace zmproxy::config

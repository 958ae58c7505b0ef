#include "lib/config/proxy_config.hpp"

#include <functional>
#include <set>

#include <toml++/toml.h>

#include "lib/core/address.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/core/duration.hpp"
#include "lib/core/strings.hpp"
#include "lib/net/address_block.hpp"
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

struct Reader {
  const toml::table& root;
  std::string file;
  std::string error;

  std::string where(const toml::node& n, const std::string& key) const {
    return file + ":" + std::to_string(n.source().begin.line) + ": " + key;
  }

  bool fail_at(const toml::node& n, const std::string& key, const std::string& what) {
    if (error.empty()) {
      error = where(n, key) + ": " + what;
    }
    return false;
  }

  // Every key of a table must be one of `known`.
  void known(const toml::table& t, const std::string& prefix, const std::set<std::string>& keys) {
    for (const auto& [k, v] : t) {
      if (keys.count(std::string(k.str())) == 0) {
        fail_at(v, prefix + std::string(k.str()),
                prefix.empty() ? std::string("unknown section; see zmproxy.conf(5) for the sections")
                               : "unknown key; see zmproxy.conf(5) for the keys of [" +
                                     prefix.substr(0, prefix.size() - 1) + "]");
      }
    }
  }

  template <typename T>
  void get(const toml::table& t, const std::string& prefix, const char* key, T& out);
};

template <>
void Reader::get<bool>(const toml::table& t, const std::string& prefix, const char* key, bool& out) {
  if (const toml::node* n = t.get(key)) {
    if (auto v = n->value<bool>()) {
      out = *v;
    } else {
      fail_at(*n, prefix + key, "expected true or false");
    }
  }
}

template <>
void Reader::get<int>(const toml::table& t, const std::string& prefix, const char* key, int& out) {
  if (const toml::node* n = t.get(key)) {
    if (auto v = n->value<std::int64_t>(); v && *v >= 0 && *v <= 1'000'000) {
      out = static_cast<int>(*v);
    } else {
      fail_at(*n, prefix + key, "expected a whole number");
    }
  }
}

template <>
void Reader::get<std::string>(const toml::table& t, const std::string& prefix, const char* key,
                              std::string& out) {
  if (const toml::node* n = t.get(key)) {
    if (auto v = n->value<std::string>()) {
      out = *v;
    } else {
      fail_at(*n, prefix + key, "expected a string");
    }
  }
}

template <>
void Reader::get<std::vector<std::string>>(const toml::table& t, const std::string& prefix,
                                           const char* key, std::vector<std::string>& out) {
  if (const toml::node* n = t.get(key)) {
    const toml::array* a = n->as_array();
    if (a == nullptr) {
      fail_at(*n, prefix + key, "expected an array of strings");
      return;
    }
    out.clear();
    for (const auto& item : *a) {
      if (auto v = item.value<std::string>()) {
        out.push_back(*v);
      } else {
        fail_at(item, prefix + key, "expected an array of strings");
      }
    }
  }
}

template <>
void Reader::get<milliseconds>(const toml::table& t, const std::string& prefix, const char* key,
                               milliseconds& out) {
  if (const toml::node* n = t.get(key)) {
    std::optional<milliseconds> d;
    if (auto s = n->value<std::string>()) {
      d = core::parse_duration(*s);
    } else if (auto i = n->value<std::int64_t>(); i && *i >= 0) {
      d = milliseconds(*i * 1000);
    }
    if (d) {
      out = *d;
    } else {
      fail_at(*n, prefix + key, "expected a duration such as \"10s\", \"1500ms\" or \"1h\"");
    }
  }
}

void read_mail(Reader& r, const toml::table& t, const std::string& prefix, MailSection& m) {
  r.known(t, prefix,
          {"enabled", "port", "ssl_enabled", "ssl_port", "starttls", "capabilities", "sasl_plain",
           "expose_version", "idle_timeout", "authenticated_idle_timeout", "send_client_address",
           "login_timeout"});
  r.get(t, prefix, "enabled", m.enabled);
  r.get(t, prefix, "port", m.port);
  r.get(t, prefix, "ssl_enabled", m.ssl_enabled);
  r.get(t, prefix, "ssl_port", m.ssl_port);
  std::string starttls = m.starttls == StartTls::only ? "only" : m.starttls == StartTls::on ? "on" : "off";
  r.get(t, prefix, "starttls", starttls);
  if (starttls == "on") {
    m.starttls = StartTls::on;
  } else if (starttls == "off") {
    m.starttls = StartTls::off;
  } else if (starttls == "only") {
    m.starttls = StartTls::only;
  } else if (const toml::node* n = t.get("starttls")) {
    r.fail_at(*n, prefix + "starttls", "expected \"on\", \"off\" or \"only\"");
  }
  r.get(t, prefix, "capabilities", m.capabilities);
  r.get(t, prefix, "sasl_plain", m.sasl_plain);
  r.get(t, prefix, "expose_version", m.expose_version);
  r.get(t, prefix, "idle_timeout", m.idle_timeout);
  r.get(t, prefix, "authenticated_idle_timeout", m.authenticated_idle_timeout);
  r.get(t, prefix, "send_client_address", m.send_client_address);
  r.get(t, prefix, "login_timeout", m.login_timeout);
}

const toml::table* section(Reader& r, const char* name) {
  const toml::node* n = r.root.get(name);
  if (n == nullptr) {
    return nullptr;
  }
  if (!n->is_table()) {
    r.fail_at(*n, name, "expected a [section]");
    return nullptr;
  }
  return n->as_table();
}

}  // namespace

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
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return fail(Errc::parse_error, file.string() + ":" + std::to_string(at.line) + ":" +
                                       std::to_string(at.column) + ": " + std::string(e.description()));
  }
  auto cfg = std::make_shared<ProxyConfig>(default_config());
  cfg->home = home;
  cfg->file = file;
  cfg->version = std::to_string(std::hash<std::string_view>{}(text));
  Reader r{root, file.string(), {}};
  r.known(root, "", {"server", "tls", "route", "mail", "imap", "pop3", "upstream", "http"});
  if (const auto* t = section(r, "server")) {
    r.known(*t, "server.", {"name", "bind_address", "workers", "worker_connections", "log_file",
                            "log_level", "access_log", "drain_timeout",
                            "user", "max_connections_per_ip"});
    r.get(*t, "server.", "name", cfg->server.name);
    r.get(*t, "server.", "bind_address", cfg->server.bind_address);
    r.get(*t, "server.", "workers", cfg->server.workers);
    r.get(*t, "server.", "worker_connections", cfg->server.worker_connections);
    r.get(*t, "server.", "log_file", cfg->server.log_file);
    r.get(*t, "server.", "log_level", cfg->server.log_level);
    r.get(*t, "server.", "access_log", cfg->server.access_log);
    r.get(*t, "server.", "drain_timeout", cfg->server.drain_timeout);
    r.get(*t, "server.", "user", cfg->server.user);
    r.get(*t, "server.", "max_connections_per_ip", cfg->server.max_connections_per_ip);
  }
  if (const auto* t = section(r, "tls")) {
    r.known(*t, "tls.", {"certificate", "key", "protocols", "ciphers", "domain_certificates"});
    r.get(*t, "tls.", "certificate", cfg->tls.certificate);
    r.get(*t, "tls.", "key", cfg->tls.key);
    r.get(*t, "tls.", "protocols", cfg->tls.protocols);
    r.get(*t, "tls.", "ciphers", cfg->tls.ciphers);
    r.get(*t, "tls.", "domain_certificates", cfg->tls.domain_certificates);
    for (const std::string& entry : cfg->tls.domain_certificates) {
      if (core::split(std::string(core::trim(entry)), ' ').size() != 3) {
        r.fail_at(*t->get("domain_certificates"), "tls.domain_certificates",
                  "'" + entry + "' is not 'hostname certificate key'");
      }
    }
  }
  if (const auto* t = section(r, "route")) {
    r.known(*t, "route.", {"handlers", "memcached", "caching", "cache_ttl", "lookup_timeout",
                           "handler_retry", "memcached_timeout", "secret", "mailbox_servers",
                           "local_cache_size"});
    r.get(*t, "route.", "handlers", cfg->route.handlers);
    r.get(*t, "route.", "memcached", cfg->route.memcached);
    r.get(*t, "route.", "caching", cfg->route.caching);
    r.get(*t, "route.", "cache_ttl", cfg->route.cache_ttl);
    r.get(*t, "route.", "lookup_timeout", cfg->route.lookup_timeout);
    r.get(*t, "route.", "handler_retry", cfg->route.handler_retry);
    r.get(*t, "route.", "memcached_timeout", cfg->route.memcached_timeout);
    r.get(*t, "route.", "secret", cfg->route.secret);
    r.get(*t, "route.", "mailbox_servers", cfg->route.mailbox_servers);
    r.get(*t, "route.", "local_cache_size", cfg->route.local_cache_size);
  }
  if (const auto* t = section(r, "mail")) {
    r.known(*t, "mail.", {"enabled"});
    r.get(*t, "mail.", "enabled", cfg->mail_enabled);
  }
  if (const auto* t = section(r, "imap")) {
    read_mail(r, *t, "imap.", cfg->imap);
  }
  if (const auto* t = section(r, "pop3")) {
    read_mail(r, *t, "pop3.", cfg->pop3);
  }
  if (const auto* t = section(r, "upstream")) {
    r.known(*t, "upstream.", {"ssl", "connect_timeout", "pass_errors", "auth_wait", "ca_file",
                              "allow_untrusted_certs"});
    r.get(*t, "upstream.", "ssl", cfg->upstream.ssl);
    r.get(*t, "upstream.", "connect_timeout", cfg->upstream.connect_timeout);
    r.get(*t, "upstream.", "pass_errors", cfg->upstream.pass_errors);
    r.get(*t, "upstream.", "auth_wait", cfg->upstream.auth_wait);
    r.get(*t, "upstream.", "ca_file", cfg->upstream.ca_file);
    r.get(*t, "upstream.", "allow_untrusted_certs", cfg->upstream.allow_untrusted_certs);
  }
  if (const auto* t = section(r, "http")) {
    r.known(*t, "http.", {"enabled", "mode", "port", "ssl_port", "strict_server_name", "server_names",
                          "upstreams", "connect_timeout", "read_timeout", "send_timeout", "poll_timeout",
                          "client_timeout", "upload_max", "response_headers", "max_header_size",
                          "admin_enabled", "admin_port", "admin_upstreams", "public_hostname",
                          "public_protocol", "public_port", "domain_public_services",
                          "trusted_proxies", "body_timeout", "body_min_rate", "tunnel_idle_timeout"});
    HttpSection& h = cfg->http;
    r.get(*t, "http.", "enabled", h.enabled);
    r.get(*t, "http.", "mode", h.mode);
    r.get(*t, "http.", "port", h.port);
    r.get(*t, "http.", "ssl_port", h.ssl_port);
    r.get(*t, "http.", "strict_server_name", h.strict_server_name);
    r.get(*t, "http.", "server_names", h.server_names);
    r.get(*t, "http.", "upstreams", h.upstreams);
    r.get(*t, "http.", "connect_timeout", h.connect_timeout);
    r.get(*t, "http.", "read_timeout", h.read_timeout);
    r.get(*t, "http.", "send_timeout", h.send_timeout);
    r.get(*t, "http.", "poll_timeout", h.poll_timeout);
    r.get(*t, "http.", "client_timeout", h.client_timeout);
    if (const toml::node* n = t->get("upload_max")) {
      if (auto v = n->value<std::int64_t>(); v && *v >= 0) {
        h.upload_max = *v;
      } else {
        r.fail_at(*n, "http.upload_max", "expected a number of bytes (0 = no limit)");
      }
    }
    r.get(*t, "http.", "response_headers", h.response_headers);
    r.get(*t, "http.", "max_header_size", h.max_header_size);
    r.get(*t, "http.", "admin_enabled", h.admin_enabled);
    r.get(*t, "http.", "admin_port", h.admin_port);
    r.get(*t, "http.", "admin_upstreams", h.admin_upstreams);
    r.get(*t, "http.", "public_hostname", h.public_hostname);
    r.get(*t, "http.", "public_protocol", h.public_protocol);
    r.get(*t, "http.", "public_port", h.public_port);
    r.get(*t, "http.", "domain_public_services", h.domain_public_services);
    for (const std::string& entry : h.domain_public_services) {
      const auto words = core::split(std::string(core::trim(entry)), ' ');
      if (words.size() < 2 || words.size() > 4) {
        r.fail_at(*t->get("domain_public_services"), "http.domain_public_services",
                  "'" + entry + "' is not 'domain hostname [protocol [port]]'");
      }
    }
    if (h.mode != "http" && h.mode != "https" && h.mode != "both" && h.mode != "redirect" &&
        h.mode != "mixed") {
      if (const toml::node* n = t->get("mode")) {
        r.fail_at(*n, "http.mode", "expected http, https, both, redirect or mixed (zimbraReverseProxyMailMode)");
      }
    }
    for (const auto* list : {&h.upstreams, &h.admin_upstreams}) {
      for (const std::string& u : *list) {
        if (const core::ParsedAddress a = core::parse_address(u); !a) {
          r.fail_at(*t, list == &h.upstreams ? "http.upstreams" : "http.admin_upstreams", a.error);
        }
      }
    }
    if (const toml::node* n = t->get("trusted_proxies")) {
      // The localconfig string as rendered ("a, b c"), or an array.
      if (auto listed = n->value<std::string>()) {
        h.trusted_proxies = net::split_address_list(*listed);
      } else {
        r.get(*t, "http.", "trusted_proxies", h.trusted_proxies);
      }
      for (const std::string& entry : h.trusted_proxies) {
        if (!net::is_address_or_cidr(entry)) {
          r.fail_at(*n, "http.trusted_proxies",
                    "'" + entry + "' is not an address or CIDR (zmlocalconfig -e zmproxy_trusted_proxies=...)");
        }
      }
    }
    r.get(*t, "http.", "body_timeout", h.body_timeout);
    if (const toml::node* n = t->get("body_min_rate")) {
      if (auto v = n->value<std::int64_t>(); v && *v >= 0) {
        h.body_min_rate = *v;
      } else {
        r.fail_at(*n, "http.body_min_rate", "expected bytes per second (0 = no minimum rate)");
      }
    }
    r.get(*t, "http.", "tunnel_idle_timeout", h.tunnel_idle_timeout);
    for (const std::string& line : h.response_headers) {
      const auto colon = line.find(':');
      if (colon == std::string::npos || colon == 0 || line.find_first_of("\r\n") != std::string::npos) {
        r.fail_at(*t->get("response_headers"), "http.response_headers",
                  "'" + line + "' is not a 'Name: value' header line");
      }
    }
  }
  if (!r.error.empty()) {
    return fail(Errc::invalid_argument, r.error);
  }
  // Cross-field checks.
  const std::string f = file.string() + ": ";
  // Zimbra's fallbacks for empty capability lists.
  if (cfg->imap.capabilities.empty()) {
    cfg->imap.capabilities = {"IMAP4rev1", "ID", "LITERAL+", "SASL-IR", "IDLE", "NAMESPACE"};
  }
  if (cfg->pop3.capabilities.empty()) {
    cfg->pop3.capabilities = {"TOP", "USER", "UIDL", "EXPIRE 31 USER"};
  }
  for (const auto& [key, d] : {std::pair<const char*, milliseconds>{"imap.idle_timeout", cfg->imap.idle_timeout},
                               {"imap.authenticated_idle_timeout", cfg->imap.authenticated_idle_timeout},
                               {"pop3.idle_timeout", cfg->pop3.idle_timeout},
                               {"pop3.authenticated_idle_timeout", cfg->pop3.authenticated_idle_timeout},
                               {"imap.login_timeout", cfg->imap.login_timeout},
                               {"pop3.login_timeout", cfg->pop3.login_timeout},
                               {"http.client_timeout", cfg->http.client_timeout},
                               {"http.body_timeout", cfg->http.body_timeout},
                               {"http.tunnel_idle_timeout", cfg->http.tunnel_idle_timeout}}) {
    if (d.count() <= 0) {
      return fail(Errc::invalid_argument, f + key + " must be longer than 0");
    }
  }
  if (cfg->server.workers < 1 || cfg->server.workers > 16) {
    return fail(Errc::invalid_argument, f + "server.workers must be 1..16 (zimbraReverseProxyWorkerProcesses)");
  }
  if (cfg->server.worker_connections < 1 || cfg->server.worker_connections > 40960) {
    return fail(Errc::invalid_argument,
                f + "server.worker_connections must be 1..40960 (zimbraReverseProxyWorkerConnections)");
  }
  // Issue 13 item 4: the memcached route allow-list is host:port entries.
  if (auto known = route::KnownServers::build(cfg->route.mailbox_servers, nullptr); !known) {
    return fail(Errc::invalid_argument, f + known.error().message);
  }
  if (cfg->server.max_connections_per_ip < 0 || cfg->server.max_connections_per_ip > 1'000'000) {
    return fail(Errc::invalid_argument,
                f + "server.max_connections_per_ip must be 0 (no cap) to 1000000 "
                    "(localconfig zmproxy_max_connections_per_ip)");
  }
  std::set<int> ports;
  const std::pair<const char*, int> listeners[] = {
      {"imap.port", cfg->mail_enabled && cfg->imap.enabled ? cfg->imap.port : -1},
      {"imap.ssl_port", cfg->mail_enabled && cfg->imap.ssl_enabled ? cfg->imap.ssl_port : -1},
      {"pop3.port", cfg->mail_enabled && cfg->pop3.enabled ? cfg->pop3.port : -1},
      {"pop3.ssl_port", cfg->mail_enabled && cfg->pop3.ssl_enabled ? cfg->pop3.ssl_port : -1},
      {"http.port", cfg->http.enabled && cfg->http.mode != "https" ? cfg->http.port : -1},
      {"http.ssl_port", cfg->http.enabled && cfg->http.mode != "http" ? cfg->http.ssl_port : -1},
      {"http.admin_port", cfg->http.admin_enabled ? cfg->http.admin_port : -1}};
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

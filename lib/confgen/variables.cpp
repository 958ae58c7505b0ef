#include "lib/confgen/variables.hpp"

#include "lib/confgen/domain_names.hpp"

#include "lib/core/address.hpp"
#include "lib/core/duration.hpp"
#include "lib/core/strings.hpp"
#include "lib/schema/registry.hpp"

#include <algorithm>
#include <set>

namespace zmproxy::confgen {

namespace {

using provisioning::Entry;
using provisioning::Values;
using schema::Attribute;
using schema::Kind;
using schema::Type;

bool is_true(std::string_view v) {
  return core::to_lower(v) == "true";
}

// The attribute's values as a TOML value, and whether they count as "on".
Variable typed(const Attribute& a, const Values& v, std::string source) {
  Variable out;
  out.source = std::move(source);
  if (a.multi) {
    out.text = toml_array(v);
    out.truthy = !v.empty();
    return out;
  }
  const std::string value = v.empty() ? std::string() : v.front();
  switch (a.type) {
    case Type::boolean:
      out.truthy = is_true(value);
      out.text = out.truthy ? "true" : "false";
      break;
    case Type::integer:
    case Type::long_integer:
    case Type::port: {
      // Digits (and a sign) only reach the TOML as a number; anything else
      // goes quoted, so the configuration parser names the key.
      const bool number =
          !value.empty() && value.find_first_not_of("-0123456789") == std::string::npos;
      out.text = value.empty() ? "0" : number ? value : toml_string(value);
      out.truthy = !value.empty() && value != "0";
      break;
    }
    case Type::duration: {
      const auto d = core::parse_duration(value);
      out.text = toml_string(d ? core::format_duration(*d) : value);
      out.truthy = d && d->count() > 0;
      break;
    }
    default:
      out.text = toml_string(value);
      out.truthy = !value.empty();
  }
  return out;
}

// server value, else globalConfig's, else the default.
struct Effective {
  const Entry& global;
  const Entry* server;

  std::pair<Values, std::string> get(const Attribute& a) const {
    if (server != nullptr && a.allowed_on(Kind::server)) {
      if (const Values* own = server->values(a.name)) {
        return {*own, "server"};
      }
      if (!a.inherits(Kind::server)) {
        return {Values{}, "server (unset)"};
      }
    }
    if (const Values* g = global.values(a.name)) {
      return {*g, "globalConfig"};
    }
    return {Values(a.defaults.begin(), a.defaults.end()), "default"};
  }
  Values values(std::string_view name) const {
    const Attribute* a = schema::find(name);
    return a ? get(*a).first : Values{};
  }
  std::string first(std::string_view name) const {
    Values v = values(name);
    return v.empty() ? std::string() : v.front();
  }
};

// The same for another server entry (lists of upstreams and handlers).
std::string server_value(const Entry& global, const Entry& server, std::string_view name) {
  return Effective{global, &server}.first(name);
}

bool has_service(const Entry& server, std::string_view service) {
  const Values* v = server.values("zimbraServiceEnabled");
  return v && std::find(v->begin(), v->end(), service) != v->end();
}

std::string host_of(const Entry& server) {
  std::string host = server.first("zimbraServiceHostname");
  return host.empty() ? server.first("cn") : host;
}

std::string host_port(const std::string& host, const std::string& port) {
  return core::format_host(host) + ":" + port;
}

Variable derived(std::string text, bool truthy) {
  return Variable{std::move(text), truthy, "derived"};
}

// "host:port" for each server entry (by zimbraServiceHostname and by cn) and
// each port a lookup may answer with: the port attributes the lookup handler
// reads (zimbraReverseProxy*PortAttribute name them), the IMAP pool's remote
// ports and the admin port. Sorted, without duplicates.
std::vector<std::string> known_mailbox_servers(const Entry& global, const std::vector<Entry>& servers) {
  std::set<std::string> port_attrs = {"zimbraRemoteImapBindPort", "zimbraRemoteImapSSLBindPort",
                                      "zimbraAdminPort"};
  for (const char* indirection :
       {"zimbraReverseProxyImapPortAttribute", "zimbraReverseProxyImapSSLPortAttribute",
        "zimbraReverseProxyPop3PortAttribute", "zimbraReverseProxyPop3SSLPortAttribute",
        "zimbraReverseProxyHttpPortAttribute", "zimbraReverseProxyHttpSSLPortAttribute",
        "zimbraReverseProxyAdminPortAttribute"}) {
    if (const std::string name = Effective{global, nullptr}.first(indirection); !name.empty()) {
      port_attrs.insert(name);
    }
  }
  std::set<std::string> out;
  for (const Entry& s : servers) {
    std::set<std::string> hosts = {host_of(s), s.first("cn")};
    hosts.erase("");
    for (const std::string& attr : port_attrs) {
      const std::string port = server_value(global, s, attr);
      if (port.empty() || port == "0" || port.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      for (const std::string& host : hosts) {
        out.insert(host_port(host, port));
      }
    }
  }
  return {out.begin(), out.end()};
}

// A domain's own certificate and key (both attributes set) become files
// under conf/domaincerts/, served for each of its virtual host names.
Result<void> add_domain_certificate(Collected& out, const Entry& d, const std::string& domain,
                                    std::vector<std::string>& domain_certs) {
  const std::string crt = d.first("zimbraSSLCertificate");
  const std::string key = d.first("zimbraSSLPrivateKey");
  if (crt.empty() || key.empty()) {
    return {};
  }
  // Issue 13 item 8: the name becomes a file name; never "../" or '/'.
  const Values* vhost_values = d.values("zimbraVirtualHostname");
  if (auto ok = check_domain_certificate_names(domain, vhost_values ? *vhost_values : Values{});
      !ok) {
    return tl::unexpected(ok.error());
  }
  out.files.push_back({"conf/domaincerts/" + domain + ".crt", crt, false,
                       "domain " + domain + " zimbraSSLCertificate"});
  out.files.push_back({"conf/domaincerts/" + domain + ".key", key, true,
                       "domain " + domain + " zimbraSSLPrivateKey"});
  if (const Values* vhosts = d.values("zimbraVirtualHostname")) {
    for (const std::string& vhn : *vhosts) {
      domain_certs.push_back(vhn + " conf/domaincerts/" + domain + ".crt conf/domaincerts/" +
                             domain + ".key");
    }
  }
  return {};
}

// Every proxy-relevant attribute by its name (this server's effective
// value) and every globalConfig attribute as global.<name>.
void add_attributes(Variables& vars, const Entry& g, const Effective& eff) {
  for (const Attribute& a : schema::all()) {
    if (a.allowed_on(Kind::global)) {
      const Values* own = g.values(a.name);
      vars["global." + std::string(a.name)] =
          typed(a, own ? *own : Values(a.defaults.begin(), a.defaults.end()),
                own ? "globalConfig" : "default");
    }
    if (a.change == schema::Change::none ||
        !(a.allowed_on(Kind::global) || a.allowed_on(Kind::server))) {
      continue;
    }
    auto [values, source] = eff.get(a);
    vars[std::string(a.name)] = typed(a, values, source);
  }
}

void add_localconfig(Variables& vars, const localconfig::LocalConfig& lc) {
  for (const std::string& key : lc.keys()) {
    auto v = lc.expanded(key);
    const std::string value = v ? *v : lc.value_or_empty(key);
    const std::string lower = core::to_lower(value);
    vars[key] = Variable{core::toml_escape(value),
                         !value.empty() && value != "0" && lower != "false" && lower != "no",
                         "localconfig"};
  }
}

// Where logins and requests go: lookup handlers, memcached, the mailbox web
// and admin servers, and every address a route may name.
void add_route(Collected& out, const Entry& g, const Effective& eff,
               const std::vector<Entry>& servers) {
  // Lookup handlers: servers marked zimbraReverseProxyLookupTarget (limited to
  // zimbraReverseProxyAvailableLookupTargets when that is set).
  const Values available = eff.values("zimbraReverseProxyAvailableLookupTargets");
  std::vector<std::string> handlers;
  std::vector<std::string> memcached;
  std::vector<std::string> upstreams;
  std::vector<std::string> admin_upstreams;
  const bool ssl_upstream = is_true(eff.first("zimbraReverseProxySSLToUpstreamEnabled"));
  for (const Entry& s : servers) {
    const std::string name = s.first("cn");
    const bool listed =
        available.empty() || std::find(available.begin(), available.end(), name) != available.end();
    if (is_true(server_value(g, s, "zimbraReverseProxyLookupTarget")) && listed) {
      handlers.push_back(host_port(host_of(s), server_value(g, s, "zimbraExtensionBindPort")));
    }
    if (has_service(s, "memcached")) {
      memcached.push_back(host_port(host_of(s), server_value(g, s, "zimbraMemcachedBindPort")));
    }
    if (has_service(s, "mailbox")) {
      const std::string port =
          server_value(g, s, ssl_upstream ? "zimbraMailSSLPort" : "zimbraMailPort");
      if (!port.empty() && port != "0") {
        upstreams.push_back(host_port(host_of(s), port));
      }
      const std::string admin = server_value(g, s, "zimbraAdminPort");
      if (!admin.empty() && admin != "0") {
        admin_upstreams.push_back(host_port(host_of(s), admin));
      }
    }
  }
  if (handlers.empty()) {
    out.notes.push_back(
        "no server has zimbraReverseProxyLookupTarget TRUE: logins fail until one does "
        "(zmprov ms <mailbox server> zimbraReverseProxyLookupTarget TRUE)");
  }
  // The memcached list the admin gave (this server's, else the global one),
  // in its order, as zmproxypurge and zmlookupd's purge read it
  // (route::memcached_servers): one list for every part of the fleet.
  if (const Values listed = eff.values("zimbraMemcachedClientServerList"); !listed.empty()) {
    memcached.assign(listed.begin(), listed.end());
  }
  Variables& vars = out.vars;
  vars["route.handlers"] = derived(toml_array(handlers), !handlers.empty());
  vars["route.memcached"] = derived(toml_array(memcached), !memcached.empty());
  vars["http.upstreams"] = derived(toml_array(upstreams), !upstreams.empty());
  vars["http.admin_upstreams"] = derived(toml_array(admin_upstreams), !admin_upstreams.empty());

  // Issue 13 item 4: every address and port a route may name, so zmproxyd
  // can refuse a memcached route to anywhere else (route.mailbox_servers).
  const std::vector<std::string> mailbox_servers = known_mailbox_servers(g, servers);
  vars["route.mailbox_servers"] = derived(toml_array(mailbox_servers), !mailbox_servers.empty());
}

// Host names the web listeners answer to; public URLs per domain;
// per-domain certificates (written as files).
Result<void> add_domains(Collected& out, const localconfig::LocalConfig& lc, const Entry* self,
                         const std::vector<Entry>& domains) {
  std::set<std::string> names;
  names.insert(lc.value_or_empty("zimbra_server_hostname"));
  if (self != nullptr && !self->first("zimbraServiceHostname").empty()) {
    names.insert(self->first("zimbraServiceHostname"));
  }
  std::vector<std::string> public_services;
  std::vector<std::string> domain_certs;
  for (const Entry& d : domains) {
    const std::string domain = d.first("zimbraDomainName");
    for (const char* attr : {"zimbraVirtualHostname", "zimbraVirtualIPAddress"}) {
      if (const Values* v = d.values(attr)) {
        names.insert(v->begin(), v->end());
      }
    }
    if (const std::string host = d.first("zimbraPublicServiceHostname"); !host.empty()) {
      std::string line = domain + " " + host;
      if (const std::string proto = d.first("zimbraPublicServiceProtocol"); !proto.empty()) {
        line += " " + proto;
        if (const std::string port = d.first("zimbraPublicServicePort"); !port.empty()) {
          line += " " + port;
        }
      }
      public_services.push_back(line);
    }
    ZMPROXY_TRY(add_domain_certificate(out, d, domain, domain_certs));
  }
  names.erase("");
  out.vars["http.server_names"] = derived(toml_array({names.begin(), names.end()}), !names.empty());
  out.vars["http.domain_public_services"] =
      derived(toml_array(public_services), !public_services.empty());
  out.vars["tls.domain_certificates"] = derived(toml_array(domain_certs), !domain_certs.empty());
  return {};
}

// The proxy's own certificate: from the attributes when set, else the
// files an admin put in conf/.
void add_certificate(Collected& out, const Effective& eff) {
  const std::string crt = eff.first("zimbraSSLCertificate");
  const std::string key = eff.first("zimbraSSLPrivateKey");
  Variables& vars = out.vars;
  if (!crt.empty() && !key.empty()) {
    out.files.push_back({"conf/confgen/zmproxy.crt", crt, false, "zimbraSSLCertificate"});
    out.files.push_back({"conf/confgen/zmproxy.key", key, true, "zimbraSSLPrivateKey"});
    vars["ssl.crt"] = derived(toml_string("conf/confgen/zmproxy.crt"), true);
    vars["ssl.key"] = derived(toml_string("conf/confgen/zmproxy.key"), true);
  } else {
    vars["ssl.crt"] = derived(toml_string("conf/zmproxy.crt"), true);
    vars["ssl.key"] = derived(toml_string("conf/zmproxy.key"), true);
  }
}

// The CA that client certificates are verified against
// (zimbraReverseProxyClientCertCA, PEM) becomes a file; "" when unset.
void add_client_cert_ca(Collected& out, const Effective& eff) {
  const std::string ca = eff.first("zimbraReverseProxyClientCertCA");
  if (ca.empty()) {
    out.vars["http.client_cert_ca"] = derived(toml_string(""), false);
    return;
  }
  out.files.push_back({"conf/confgen/zmproxy.client-ca.crt", ca, false, "zimbraReverseProxyClientCertCA"});
  out.vars["http.client_cert_ca"] = derived(toml_string("conf/confgen/zmproxy.client-ca.crt"), true);
}

// Issue 17: a domain's own zimbraReverseProxyClientCertMode or
// zimbraReverseProxyClientCertCA applies to its virtual host names
// (http.domain_client_certs: "hostname mode [ca]"); what it does not set
// itself is this server's. Its CA becomes conf/domaincerts/<domain>.client-ca.crt.
// After add_client_cert_ca: the files of certificate pairs come first.
Result<void> add_domain_client_certs(Collected& out, const Effective& eff, const std::vector<Entry>& domains) {
  std::vector<std::string> entries;
  const std::string global_ca = eff.first("zimbraReverseProxyClientCertCA").empty()
                                    ? std::string()
                                    : std::string("conf/confgen/zmproxy.client-ca.crt");
  for (const Entry& d : domains) {
    const std::string own_mode = d.first("zimbraReverseProxyClientCertMode");
    const std::string own_ca = d.first("zimbraReverseProxyClientCertCA");
    const Values* vhosts = d.values("zimbraVirtualHostname");
    if ((own_mode.empty() && own_ca.empty()) || vhosts == nullptr || vhosts->empty()) {
      continue;
    }
    const std::string domain = d.first("zimbraDomainName");
    ZMPROXY_TRY(check_domain_certificate_names(domain, *vhosts));
    std::string ca = global_ca;
    if (!own_ca.empty()) {
      ca = "conf/domaincerts/" + domain + ".client-ca.crt";
      out.files.push_back({ca, own_ca, false, "domain " + domain + " zimbraReverseProxyClientCertCA"});
    }
    const std::string mode = own_mode.empty() ? eff.first("zimbraReverseProxyClientCertMode") : own_mode;
    for (const std::string& vhn : *vhosts) {
      entries.push_back(vhn + " " + (mode.empty() ? std::string("off") : mode) + (ca.empty() ? "" : " " + ca));
    }
  }
  out.vars["http.domain_client_certs"] = derived(toml_array(entries), !entries.empty());
  return {};
}

// Switches that depend on several attributes.
void add_switches(Variables& vars, const Effective& eff, const localconfig::LocalConfig& lc) {
  const std::string http_port = eff.first("zimbraMailProxyPort");
  const std::string https_port = eff.first("zimbraMailSSLProxyPort");
  const bool has_http = !http_port.empty() && http_port != "0";
  const bool has_https = !https_port.empty() && https_port != "0";
  const bool http_on =
      is_true(eff.first("zimbraReverseProxyHttpEnabled")) && (has_http || has_https);
  vars["http.enabled"] = derived(http_on ? "true" : "false", http_on);
  std::string mode = eff.first("zimbraReverseProxyMailMode");
  if (mode.empty()) {
    mode = has_http && has_https ? "both" : has_https ? "https" : "http";
  }
  vars["http.mode"] = derived(toml_string(mode), true);
  const std::string admin_port = eff.first("zimbraAdminProxyPort");
  const bool admin_on = is_true(eff.first("zimbraReverseProxyAdminEnabled")) &&
                        !admin_port.empty() && admin_port != "0";
  vars["http.admin_enabled"] = derived(admin_on ? "true" : "false", admin_on);
  const std::string certauth_port = eff.first("zimbraMailSSLProxyClientCertPort");
  const bool certauth_on = !certauth_port.empty() && certauth_port != "0";
  vars["http.certauth_enabled"] = derived(certauth_on ? "true" : "false", certauth_on);
  const long long auth_idle = lc.integer("imap_authenticated_max_idle_time", 1800) + 300;
  vars["imap.authenticated_idle_timeout"] =
      derived(toml_string(std::to_string(auth_idle) + "s"), true);
  // Zimbra's NoOp and WaitSet locations: the mailbox's longest wait plus 20 s.
  const long long noop = lc.integer("zimbra_noop_max_timeout", 1200) + 20;
  vars["http.noop_timeout"] = derived(toml_string(std::to_string(noop) + "s"), true);
  const long long waitset = lc.integer("zimbra_waitset_max_request_timeout", 1200) + 20;
  vars["http.waitset_timeout"] = derived(toml_string(std::to_string(waitset) + "s"), true);
}

}  // namespace

Result<Collected> collect_variables(provisioning::Provisioning& prov,
                                    const localconfig::LocalConfig& lc,
                                    std::string_view server_name) {
  Collected out;
  auto global = prov.get(Kind::global, "");
  Entry empty_global;
  if (!global && global.error().code != Errc::not_found) {
    return tl::unexpected(global.error());
  }
  const Entry& g = global ? *global : empty_global;
  auto servers = prov.list(Kind::server);
  if (!servers) {
    return tl::unexpected(servers.error());
  }
  auto domains = prov.list(Kind::domain);
  if (!domains) {
    return tl::unexpected(domains.error());
  }
  const Entry* self = nullptr;
  for (const Entry& s : *servers) {
    if (core::to_lower(s.first("cn")) == core::to_lower(server_name)) {
      self = &s;
    }
  }
  if (self == nullptr) {
    out.notes.push_back("no server entry named '" + std::string(server_name) +
                        "': using globalConfig values (create it with `zmprov cs " +
                        std::string(server_name) + "`, or set zimbra_server_hostname)");
  }
  const Effective eff{g, self};
  add_attributes(out.vars, g, eff);
  add_localconfig(out.vars, lc);
  add_route(out, g, eff, *servers);
  ZMPROXY_TRY(add_domains(out, lc, self, *domains));
  add_certificate(out, eff);
  add_client_cert_ca(out, eff);
  ZMPROXY_TRY(add_domain_client_certs(out, eff, *domains));
  add_switches(out.vars, eff, lc);
  return out;
}

}  // namespace zmproxy::confgen

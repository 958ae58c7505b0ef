// zmproxyconfig: option checks and the pure planner (REFERENCE-zimbra §4).
// Reading the node, writing the plan and the 80/443 check are in
// proxy_setup_node.cpp.

#include "lib/provisioning/proxy_setup.hpp"

#include "lib/core/strings.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace zmproxy::provisioning {

namespace {

constexpr std::string_view k_true = "TRUE";
constexpr std::string_view k_false = "FALSE";

// The defaults of -i, -p, -a, -n on enable and on disable.
struct PortDefaults {
  std::string_view imap, pop, web, admin;
};
constexpr PortDefaults k_enable_ports{"7143:143:7993:993", "7110:110:7995:995", "8080:80:8443:443",
                                      "7071:9071"};
constexpr PortDefaults k_disable_ports{"143:7143:993:7993", "110:7110:995:7995", "80:0:443:0",
                                       "7071:9071"};

constexpr std::array<std::string_view, 5> k_mail_modes{"http", "https", "both", "mixed",
                                                       "redirect"};

// -f: the global proxy defaults, in Zimbra's order.
constexpr std::array<std::pair<std::string_view, std::string_view>, 15> k_global_defaults{{
    {"zimbraReverseProxyDomainNameQuery",
     "(&(zimbraVirtualIPAddress=${IPADDR})(objectClass=zimbraDomain))"},
    {"zimbraReverseProxyMailHostQuery",
     "(|(zimbraMailDeliveryAddress=${USER})(zimbraMailAlias=${USER})(zimbraId=${USER}))"},
    {"zimbraReverseProxyPortQuery",
     "(&(zimbraServiceHostname=${MAILHOST})(objectClass=zimbraServer))"},
    {"zimbraMemcachedBindPort", "11211"},
    {"zimbraReverseProxyMailHostAttribute", "zimbraMailHost"},
    {"zimbraReverseProxyPop3PortAttribute", "zimbraPop3BindPort"},
    {"zimbraReverseProxyPop3SSLPortAttribute", "zimbraPop3SSLBindPort"},
    {"zimbraReverseProxyImapPortAttribute", "zimbraImapBindPort"},
    {"zimbraReverseProxyImapSSLPortAttribute", "zimbraImapSSLBindPort"},
    {"zimbraReverseProxyDomainNameAttribute", "zimbraDomainName"},
    {"zimbraReverseProxyAuthWaitInterval", "10s"},
    {"zimbraReverseProxyIPLoginLimit", "0"},
    {"zimbraReverseProxyIPLoginLimitTime", "3600"},
    {"zimbraReverseProxyUserLoginLimit", "0"},
    {"zimbraReverseProxyUserLoginLimitTime", "3600"},
}};

Result<void> usage(std::string message) {
  return fail(Errc::invalid_argument, std::move(message));
}

// "a:b:c:d" -> the ports, each 0..65535, none (but 0) twice.
Result<std::vector<std::string>> parse_ports(std::string_view text,
                                             std::string_view flag,
                                             std::string_view format,
                                             std::string_view example,
                                             std::size_t count) {
  const std::string shape = std::string(flag) + " takes " + std::string(format) + ", e.g. " +
                            std::string(flag) + " " + std::string(example);
  auto parts = core::split(text, ':');
  if (parts.size() != count) {
    return fail(Errc::invalid_argument, std::string(flag) + " '" + std::string(text) + "' has " +
                                            std::to_string(parts.size()) + " part" +
                                            (parts.size() == 1 ? "" : "s") + ", not " +
                                            std::to_string(count) + "; " + shape);
  }
  for (auto& p : parts) {
    unsigned long v = 0;
    const auto* end = p.data() + p.size();
    const auto r = std::from_chars(p.data(), end, v);
    if (p.empty() || r.ec != std::errc{} || r.ptr != end || v > 65535) {
      return fail(Errc::invalid_argument, std::string(flag) + " '" + std::string(text) + "': '" +
                                              p + "' is not a port (0..65535); " + shape);
    }
    p = std::to_string(v);
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    for (std::size_t j = i + 1; j < parts.size(); ++j) {
      if (parts[i] != "0" && parts[i] == parts[j]) {
        return fail(Errc::invalid_argument,
                    std::string(flag) + " '" + std::string(text) + "' uses port " + parts[i] +
                        " twice: the mailbox and the proxy cannot listen on the same port; " +
                        shape);
      }
    }
  }
  return parts;
}

Result<std::vector<std::string>> imap_ports(std::string_view text) {
  return parse_ports(text, "-i", "IMAP-STORE:IMAP-PROXY:IMAPS-STORE:IMAPS-PROXY",
                     k_enable_ports.imap, 4);
}
Result<std::vector<std::string>> pop_ports(std::string_view text) {
  return parse_ports(text, "-p", "POP-STORE:POP-PROXY:POPS-STORE:POPS-PROXY", k_enable_ports.pop,
                     4);
}
Result<std::vector<std::string>> web_ports(std::string_view text) {
  return parse_ports(text, "-a", "HTTP-STORE:HTTP-PROXY:HTTPS-STORE:HTTPS-PROXY",
                     k_enable_ports.web, 4);
}
Result<std::vector<std::string>> admin_ports(std::string_view text) {
  return parse_ports(text, "-n", "ADMIN-STORE:ADMIN-PROXY", k_enable_ports.admin, 2);
}

// The changes of one entry, each attribute once: a later set replaces an
// earlier one of the same attribute.
class ChangeList {
 public:
  void set(std::string_view attr, std::string_view value) {
    for (auto& c : m_changes) {
      if (c.op == AttrChange::Op::set && core::iequals(c.attr, attr)) {
        c.value = std::string(value);
        return;
      }
    }
    m_changes.push_back({AttrChange::Op::set, std::string(attr), std::string(value)});
  }
  void add(std::string_view attr, std::string_view value) {
    m_changes.push_back({AttrChange::Op::add, std::string(attr), std::string(value)});
  }
  void remove(std::string_view attr, std::string_view value) {
    m_changes.push_back({AttrChange::Op::remove, std::string(attr), std::string(value)});
  }
  // The value this list sets, else `fallback`.
  std::string value_or(std::string_view attr, std::string fallback) const {
    for (const auto& c : m_changes) {
      if (c.op == AttrChange::Op::set && core::iequals(c.attr, attr)) {
        return c.value;
      }
    }
    return fallback;
  }
  std::vector<AttrChange> take() { return std::move(m_changes); }

 private:
  std::vector<AttrChange> m_changes;
};

// The ports of one -e/-d run, defaults filled in.
struct Ports {
  std::vector<std::string> imap, pop, web, admin;
};

Result<Ports> ports_for(const ProxySetupOptions& o) {
  const PortDefaults& d = o.enable ? k_enable_ports : k_disable_ports;
  auto pick = [](const std::string& given, std::string_view fallback) {
    return given.empty() ? std::string(fallback) : given;
  };
  Ports p;
  auto i = imap_ports(pick(o.imap_ports, d.imap));
  auto q = pop_ports(pick(o.pop_ports, d.pop));
  auto w = web_ports(pick(o.web_ports, d.web));
  auto n = admin_ports(pick(o.admin_ports, d.admin));
  for (const auto* r : {&i, &q, &w, &n}) {
    if (!*r) {
      return tl::unexpected(r->error());
    }
  }
  return Ports{std::move(*i), std::move(*q), std::move(*w), std::move(*n)};
}

void mail_ports(ChangeList& c, const Ports& p) {
  c.set("zimbraImapBindPort", p.imap[0]);
  c.set("zimbraImapProxyBindPort", p.imap[1]);
  c.set("zimbraImapSSLBindPort", p.imap[2]);
  c.set("zimbraImapSSLProxyBindPort", p.imap[3]);
  c.set("zimbraPop3BindPort", p.pop[0]);
  c.set("zimbraPop3ProxyBindPort", p.pop[1]);
  c.set("zimbraPop3SSLBindPort", p.pop[2]);
  c.set("zimbraPop3SSLProxyBindPort", p.pop[3]);
}

void web_port_attrs(ChangeList& c, const Ports& p) {
  c.set("zimbraMailPort", p.web[0]);
  c.set("zimbraMailProxyPort", p.web[1]);
  c.set("zimbraMailSSLPort", p.web[2]);
  c.set("zimbraMailSSLProxyPort", p.web[3]);
}

void admin(ChangeList& c, const Ports& p, bool enabled) {
  c.set("zimbraReverseProxyAdminEnabled", enabled ? k_true : k_false);
  c.set("zimbraAdminPort", p.admin[0]);
  c.set("zimbraAdminProxyPort", p.admin[1]);
}

enum class NodeKind { store_and_proxy, store_only, proxy_only };

Result<NodeKind> node_kind(const ProxySetupOptions& o, const NodeState& node) {
  if (node.has_store && node.has_proxy) {
    return NodeKind::store_and_proxy;
  }
  if (node.has_proxy) {
    return NodeKind::proxy_only;
  }
  if (node.has_store) {
    if (!node.store_enabled && !o.override_enabled && (o.enable || o.disable)) {
      return fail(Errc::invalid_argument,
                  "the mailbox service is installed but not enabled on " + node.name +
                      " (zimbraServiceEnabled has no mailbox); enable it with 'zmprov ms " +
                      node.name +
                      " +zimbraServiceEnabled mailbox' or pass -o to configure it anyway");
    }
    return NodeKind::store_only;
  }
  return fail(
      Errc::invalid_argument,
      "server " + node.name +
          " has neither mailbox nor proxy in zimbraServiceInstalled; add what it runs, e.g. "
          "'zmprov ms " +
          node.name + " +zimbraServiceInstalled proxy'");
}

// The enable half of the §4 table.
Result<void> plan_enable(const ProxySetupOptions& o,
                         const NodeState& node,
                         NodeKind kind,
                         const Ports& p,
                         ChangeList& c) {
  const bool ssl_now = node.value("zimbraReverseProxySSLToUpstreamEnabled") == k_true;
  const bool ssl = o.ssl_upstream_on || (!o.ssl_upstream_off && ssl_now);
  if (ssl && (o.mail_mode == "http" || o.mail_mode == "both" || o.mail_mode == "mixed")) {
    return usage("-x " + o.mail_mode +
                 " needs plain HTTP to the mailbox servers, but SSL to the "
                 "upstream is on (zimbraReverseProxySSLToUpstreamEnabled TRUE on " +
                 node.name + "); use -x https or -x redirect, or add -u");
  }
  // Zimbra's getMailMode: with SSL to the upstream the mailbox must speak
  // HTTPS (both when it spoke HTTP), else plain HTTP.
  const std::string current = node.value("zimbraMailMode");
  const std::string store_mode = !ssl ? "http"
                                 : (current.empty() || current == "http" || current == "both")
                                     ? "both"
                                     : "https";
  const std::string proxy_mode = !o.mail_mode.empty() ? o.mail_mode : ssl ? "https" : "http";
  const bool store = kind != NodeKind::proxy_only;
  const bool proxy = kind != NodeKind::store_only;

  if (o.mail) {
    mail_ports(c, p);
    if (store) {
      c.set("zimbraImapCleartextLoginEnabled", k_true);
      c.set("zimbraPop3CleartextLoginEnabled", k_true);
      c.set("zimbraReverseProxyLookupTarget", k_true);
    }
    if (proxy) {
      c.set("zimbraReverseProxyMailEnabled", k_true);
    }
  }
  if (o.web) {
    if (store) {
      c.set("zimbraMailReferMode", "reverse-proxied");
    }
    web_port_attrs(c, p);
    if (store) {
      c.set("zimbraMailMode", store_mode);
    }
    if (proxy) {
      c.set("zimbraReverseProxyMailMode", proxy_mode);
    }
    if (store) {
      c.set("zimbraReverseProxyLookupTarget", k_true);
    }
    if (proxy) {
      c.set("zimbraReverseProxyHttpEnabled", k_true);
    }
    if (o.admin_enable || o.admin_disable) {
      admin(c, p, o.admin_enable);  // Zimbra's store-only -c wrote $n2 as zimbraAdminPort; not here
    }
  }
  if (o.ssl_upstream_on || o.ssl_upstream_off) {
    c.set("zimbraReverseProxySSLToUpstreamEnabled", ssl ? k_true : k_false);
  }
  if (proxy && !node.proxy_enabled) {
    c.add("zimbraServiceEnabled", "proxy");
  }
  return {};
}

// The disable half of the §4 table.
void plan_disable(const ProxySetupOptions& o,
                  const NodeState& node,
                  NodeKind kind,
                  const Ports& p,
                  ChangeList& c) {
  const std::string mode = o.mail_mode.empty() ? "http" : o.mail_mode;
  const bool store = kind != NodeKind::proxy_only;
  const bool proxy = kind != NodeKind::store_only;
  if (o.mail) {
    mail_ports(c, p);
    if (proxy) {
      c.set("zimbraReverseProxyMailEnabled", k_false);
    }
    if (store && o.secure) {
      c.set("zimbraImapCleartextLoginEnabled", k_false);
      c.set("zimbraPop3CleartextLoginEnabled", k_false);
    }
  }
  if (o.web) {
    if (store) {
      c.set("zimbraMailReferMode", "wronghost");
    }
    web_port_attrs(c, p);
    if (store) {
      c.set("zimbraMailMode", mode);
    }
    if (proxy) {
      c.set("zimbraReverseProxyMailMode", mode);
      c.set("zimbraReverseProxyHttpEnabled", k_false);
    }
    admin(c, p, false);  // no web proxy, no admin console proxy
  }
  if (kind == NodeKind::store_only && o.lookup_target_off) {
    c.set("zimbraReverseProxyLookupTarget", k_false);
  }
  if (proxy) {
    const bool http_off = c.value_or("zimbraReverseProxyHttpEnabled",
                                     node.value("zimbraReverseProxyHttpEnabled")) == k_false;
    const bool mail_off = c.value_or("zimbraReverseProxyMailEnabled",
                                     node.value("zimbraReverseProxyMailEnabled")) == k_false;
    if (http_off && mail_off) {
      if (node.proxy_enabled) {
        c.remove("zimbraServiceEnabled", "proxy");
      }
      if (store) {
        c.set("zimbraReverseProxyLookupTarget", k_false);
      }
    }
  }
}

}  // namespace

std::string NodeState::value(std::string_view attr) const {
  const auto it = values.find(attr);
  return it == values.end() ? std::string() : it->second;
}

Result<void> validate_options(const ProxySetupOptions& o) {
  const bool change = o.enable || o.disable;
  if (o.host.empty()) {
    return usage("-H is required: name the server to change (its zimbra_server_hostname)");
  }
  if (o.enable && o.disable) {
    return usage("-e and -d cannot be used together: enable or disable, not both");
  }
  if (!change && !o.full_reset) {
    return usage("nothing to do: give -e (enable) or -d (disable) with -m and/or -w, or -f");
  }
  if (change && !o.mail && !o.web) {
    return usage(std::string(o.enable ? "-e" : "-d") +
                 " needs -m (the IMAP/POP3 proxy), -w (the web proxy) or both");
  }
  if (!change && (o.mail || o.web)) {
    return usage("-m and -w need -e (enable) or -d (disable)");
  }
  if (!o.mail && (!o.imap_ports.empty() || !o.pop_ports.empty())) {
    return usage("-i and -p set the IMAP/POP3 ports and need -m (with -e or -d)");
  }
  if (!o.web && !o.web_ports.empty()) {
    return usage("-a sets the web ports and needs -w (with -e or -d)");
  }
  if (!o.web && !o.mail_mode.empty()) {
    return usage("-x sets the web mail mode and needs -w (with -e or -d)");
  }
  if (!o.mail_mode.empty() &&
      std::find(k_mail_modes.begin(), k_mail_modes.end(), o.mail_mode) == k_mail_modes.end()) {
    return usage("-x '" + o.mail_mode +
                 "' is not a mail mode: use http, https, both, mixed or redirect");
  }
  if ((o.admin_enable || o.admin_disable) && !o.web) {
    return usage("-C and -c need -w: the admin console proxy is part of the web proxy");
  }
  if (o.admin_enable && o.admin_disable) {
    return usage("-C and -c cannot be used together: enable or disable the admin console proxy");
  }
  if (!o.admin_ports.empty() && !o.admin_enable && !o.admin_disable) {
    return usage("-n sets the admin console ports and needs -C or -c");
  }
  if (o.disable && o.admin_enable) {
    return usage(
        "-C cannot be used with -d: disabling the web proxy disables the admin console "
        "proxy; use -c -n STORE:PROXY to choose its ports");
  }
  if ((o.ssl_upstream_on || o.ssl_upstream_off) && !o.enable) {
    return usage("-u and -U apply only with -e (SSL to the upstream is set when enabling)");
  }
  if (o.ssl_upstream_on && o.ssl_upstream_off) {
    return usage(
        "-u and -U cannot be used together: SSL to the upstream is either off (-u) or on (-U)");
  }
  if (o.secure && !o.disable) {
    return usage(
        "-s applies only with -d (it turns cleartext IMAP/POP3 logins off when disabling)");
  }
  if (o.lookup_target_off && !o.disable) {
    return usage("-t applies only with -d (it stops a mailbox-only server being a lookup target)");
  }
  if (!o.imap_ports.empty()) {
    ZMPROXY_TRY(imap_ports(o.imap_ports));
  }
  if (!o.pop_ports.empty()) {
    ZMPROXY_TRY(pop_ports(o.pop_ports));
  }
  if (!o.web_ports.empty()) {
    ZMPROXY_TRY(web_ports(o.web_ports));
  }
  if (!o.admin_ports.empty()) {
    ZMPROXY_TRY(admin_ports(o.admin_ports));
  }
  return {};
}

Result<void> check_local(const ProxySetupOptions& o, std::string_view local_host) {
  if (o.remote || core::iequals(o.host, local_host)) {
    return {};
  }
  return usage("-H " + o.host + " is not this host (zimbra_server_hostname is " +
               std::string(local_host) + "); add -r to change a remote server");
}

Result<ProxySetupPlan> plan_proxy_setup(const ProxySetupOptions& o, const NodeState& node) {
  ZMPROXY_TRY(validate_options(o));
  auto kind = node_kind(o, node);
  if (!kind) {
    return tl::unexpected(kind.error());
  }
  ProxySetupPlan plan;
  if (o.full_reset) {
    ChangeList global;
    for (const auto& [attr, value] : k_global_defaults) {
      global.set(attr, value);
    }
    plan.push_back({Kind::global, "", global.take()});
  }
  if (!o.enable && !o.disable) {
    return plan;
  }
  auto ports = ports_for(o);
  if (!ports) {
    return tl::unexpected(ports.error());
  }
  ChangeList server;
  if (o.enable) {
    ZMPROXY_TRY(plan_enable(o, node, *kind, *ports, server));
  } else {
    plan_disable(o, node, *kind, *ports, server);
  }
  auto changes = server.take();
  if (!changes.empty()) {
    plan.push_back({Kind::server, node.name, std::move(changes)});
  }
  return plan;
}

}  // namespace zmproxy::provisioning

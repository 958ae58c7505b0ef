// zmproxyconfig: reading the server entry, writing a plan, showing it as
// zmprov commands, and the check that something still listens on 80/443.

#include "lib/core/strings.hpp"
#include "lib/provisioning/proxy_setup.hpp"

#include <set>

namespace zmproxy::provisioning {

namespace {

bool has_value(const Entry& entry, std::string_view attr, std::string_view value) {
  if (const Values* v = entry.values(attr)) {
    for (const auto& s : *v) {
      if (core::iequals(s, value)) {
        return true;
      }
    }
  }
  return false;
}

// A word as a POSIX shell needs it: bare when it is plain, else in quotes.
std::string shell_word(std::string_view s) {
  if (s.empty()) {
    return "''";
  }
  for (char c : s) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
    if (!plain) {
      return core::shell_quote(s);
    }
  }
  return std::string(s);
}

const EntryWrite* server_write(const ProxySetupPlan& plan) {
  for (const auto& w : plan) {
    if (w.kind == Kind::server) {
      return &w;
    }
  }
  return nullptr;
}

// The node's value of `attr` once the plan is written.
std::string value_after(const NodeState& node, const ProxySetupPlan& plan, std::string_view attr) {
  std::string value = node.value(attr);
  if (const EntryWrite* w = server_write(plan)) {
    for (const auto& c : w->changes) {
      if (c.op == AttrChange::Op::set && core::iequals(c.attr, attr)) {
        value = c.value;
      }
    }
  }
  return value;
}

bool proxy_enabled_after(const NodeState& node, const ProxySetupPlan& plan) {
  bool enabled = node.proxy_enabled;
  if (const EntryWrite* w = server_write(plan)) {
    for (const auto& c : w->changes) {
      if (core::iequals(c.attr, "zimbraServiceEnabled") && core::iequals(c.value, "proxy")) {
        enabled = c.op != AttrChange::Op::remove;
      }
    }
  }
  return enabled;
}

// The HTTP and HTTPS ports opened for a mail mode ("" counts as both).
void listeners(std::set<std::string>& out,
               std::string_view mode,
               const std::string& http_port,
               const std::string& https_port) {
  if (mode != "https" && !http_port.empty() && http_port != "0") {
    out.insert(http_port);
  }
  if (mode != "http" && !https_port.empty() && https_port != "0") {
    out.insert(https_port);
  }
}

}  // namespace

const std::vector<std::string_view>& node_attributes() {
  static const std::vector<std::string_view> attrs{
      "zimbraReverseProxySSLToUpstreamEnabled",
      "zimbraMailMode",
      "zimbraReverseProxyMailMode",
      "zimbraReverseProxyHttpEnabled",
      "zimbraReverseProxyMailEnabled",
      "zimbraMailPort",
      "zimbraMailSSLPort",
      "zimbraMailProxyPort",
      "zimbraMailSSLProxyPort",
  };
  return attrs;
}

Result<NodeState> read_node(Provisioning& prov, std::string_view host) {
  auto entry = prov.get(Kind::server, host);
  if (!entry) {
    if (entry.error().code == Errc::not_found) {
      return fail(Errc::not_found, "account.NO_SUCH_SERVER",
                  "no such server: " + std::string(host) +
                      "; 'zmprov gas' lists the servers, 'zmprov cs " + std::string(host) +
                      "' creates one");
    }
    return tl::unexpected(entry.error());
  }
  NodeState node;
  node.name = Provisioning::name_of(*entry, Kind::server);
  node.has_store = has_value(*entry, "zimbraServiceInstalled", "mailbox");
  node.has_proxy = has_value(*entry, "zimbraServiceInstalled", "proxy");
  node.store_enabled = has_value(*entry, "zimbraServiceEnabled", "mailbox");
  node.proxy_enabled = has_value(*entry, "zimbraServiceEnabled", "proxy");
  for (const auto attr : node_attributes()) {
    auto v = prov.effective(*entry, Kind::server, attr);
    if (!v) {
      return tl::unexpected(v.error());
    }
    node.values[std::string(attr)] = v->empty() ? std::string() : v->front();
  }
  return node;
}

std::string zmprov_command(const EntryWrite& write) {
  std::string line =
      write.kind == Kind::global ? "zmprov mcf" : "zmprov ms " + shell_word(write.key);
  for (const auto& c : write.changes) {
    const char* sign = c.op == AttrChange::Op::add      ? "+"
                       : c.op == AttrChange::Op::remove ? "-"
                                                        : "";
    line += ' ';
    line += shell_word(sign + c.attr);
    line += ' ';
    line += shell_word(c.value);
  }
  return line;
}

Result<void> apply_proxy_setup(Provisioning& prov, const ProxySetupPlan& plan) {
  bool written = false;
  for (const auto& w : plan) {
    if (auto r = prov.modify(w.kind, w.key, w.changes, false); !r) {
      Error e = r.error();
      const std::string what = w.kind == Kind::global ? "the global config" : "server " + w.key;
      e.message = "cannot change " + what + ": " + e.message +
                  (written ? " (the global config was changed already; run again once fixed)" : "");
      return tl::unexpected(std::move(e));
    }
    written = true;
  }
  return {};
}

std::optional<std::string> listen_warning(const NodeState& node, const ProxySetupPlan& plan) {
  if (!node.has_proxy) {
    return std::nullopt;
  }
  const bool proxy_on = proxy_enabled_after(node, plan);
  const bool http_on = value_after(node, plan, "zimbraReverseProxyHttpEnabled") != "FALSE";
  const std::string mode = value_after(node, plan, "zimbraReverseProxyMailMode");
  const std::string http = value_after(node, plan, "zimbraMailProxyPort");
  const std::string https = value_after(node, plan, "zimbraMailSSLProxyPort");
  std::set<std::string> open;
  if (proxy_on && http_on) {
    listeners(open, mode, http, https);
  }
  if (node.has_store && node.store_enabled) {  // the mailbox's own web server
    listeners(open, value_after(node, plan, "zimbraMailMode"),
              value_after(node, plan, "zimbraMailPort"),
              value_after(node, plan, "zimbraMailSSLPort"));
  }
  if (open.count("80") != 0 || open.count("443") != 0) {
    return std::nullopt;
  }
  const std::string head = "nothing will listen on port 80 or 443 on " + node.name + ": ";
  const std::string enable =
      "; turn the web proxy on with 'zmproxyconfig -e -w -H " + node.name + "'";
  if (!proxy_on) {
    return head + "the proxy service is off (zimbraServiceEnabled has no proxy)" + enable;
  }
  if (!http_on) {
    return head + "zimbraReverseProxyHttpEnabled is FALSE" + enable;
  }
  std::string cause = "zimbraMailProxyPort is " + (http.empty() ? "unset" : http) +
                      " and zimbraMailSSLProxyPort is " + (https.empty() ? "unset" : https);
  if (mode == "http" || mode == "https") {
    cause += " and zimbraReverseProxyMailMode " + mode + " opens only the " +
             (mode == "http" ? "HTTP" : "HTTPS") + " one";
  }
  const std::string fix = mode == "http" ? "zimbraMailProxyPort 80" : "zimbraMailSSLProxyPort 443";
  const bool never_set = (http.empty() || http == "0") && (https.empty() || https == "0");
  return head + cause + "; set 'zmprov ms " + shell_word(node.name) + " " + fix + "'" +
         (never_set ? " or set up the web proxy with 'zmproxyconfig -e -w -H " + node.name + "'"
                    : "");
}

}  // namespace zmproxy::provisioning

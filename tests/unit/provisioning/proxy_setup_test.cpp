// zmproxyconfig's pure steps: option checks, the planner of REFERENCE-zimbra
// §4, the zmprov lines of --dry-run and the 80/443 warning. The writes
// through a store are covered by tests/integration/zmproxyconfig_test.py.

#include "lib/provisioning/proxy_setup.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace zmproxy;
using namespace zmproxy::provisioning;

namespace {

NodeState node(bool store, bool proxy, bool proxy_enabled = false) {
  NodeState n;
  n.name = "mail.example.com";
  n.has_store = store;
  n.has_proxy = proxy;
  n.store_enabled = store;
  n.proxy_enabled = proxy_enabled;
  n.values = {{"zimbraReverseProxySSLToUpstreamEnabled", "TRUE"},
              {"zimbraReverseProxyHttpEnabled", "TRUE"},
              {"zimbraReverseProxyMailEnabled", "TRUE"},
              {"zimbraMailPort", "80"},
              {"zimbraMailSSLPort", "0"},
              {"zimbraMailProxyPort", "0"},
              {"zimbraMailSSLProxyPort", "0"}};
  return n;
}

ProxySetupOptions options(bool enable, bool mail, bool web) {
  ProxySetupOptions o;
  o.host = "mail.example.com";
  o.enable = enable;
  o.disable = !enable;
  o.mail = mail;
  o.web = web;
  return o;
}

// The server's changes as "attr" / "+attr" / "-attr" -> value.
std::map<std::string, std::string> server_changes(const ProxySetupPlan& plan) {
  std::map<std::string, std::string> out;
  for (const auto& w : plan) {
    if (w.kind != Kind::server) {
      continue;
    }
    for (const auto& c : w.changes) {
      const char* sign = c.op == AttrChange::Op::add      ? "+"
                         : c.op == AttrChange::Op::remove ? "-"
                                                          : "";
      out[sign + c.attr] = c.value;
    }
  }
  return out;
}

std::string error_of(const Result<void>& r) {
  return r ? std::string() : r.error().message;
}

}  // namespace

TEST_CASE("proxy_setup: flag combinations are checked before the store is read") {
  auto o = options(true, true, false);
  CHECK(validate_options(o));
  o.imap_ports = "7143:143:x:993";
  CHECK_THAT(error_of(validate_options(o)), Catch::Contains("'x' is not a port"));
  o.imap_ports = "7143:143:7993:993";
  o.mail_mode = "https";
  CHECK_THAT(error_of(validate_options(o)),
             Catch::Contains("-x sets the web mail mode and needs -w"));
  o = options(true, true, true);
  o.secure = true;
  CHECK_THAT(error_of(validate_options(o)), Catch::Contains("-s applies only with -d"));
  o = options(false, false, true);
  o.admin_enable = true;
  CHECK_THAT(error_of(validate_options(o)), Catch::Contains("-C cannot be used with -d"));
  o = ProxySetupOptions{};
  o.full_reset = true;
  CHECK_THAT(error_of(validate_options(o)), Catch::Contains("-H is required"));
  o.host = "h";
  CHECK(validate_options(o));
}

TEST_CASE("proxy_setup: -r is needed for another host, names compare without case") {
  auto o = options(true, true, false);
  CHECK(check_local(o, "MAIL.example.com"));
  CHECK_THAT(error_of(check_local(o, "other.example.com")), Catch::Contains("add -r"));
  o.remote = true;
  CHECK(check_local(o, "other.example.com"));
}

TEST_CASE("proxy_setup: enable on a proxy-only node") {
  auto plan = plan_proxy_setup(options(true, true, true), node(false, true));
  REQUIRE(plan);
  const std::map<std::string, std::string> want{
      {"zimbraImapBindPort", "7143"},
      {"zimbraImapProxyBindPort", "143"},
      {"zimbraImapSSLBindPort", "7993"},
      {"zimbraImapSSLProxyBindPort", "993"},
      {"zimbraPop3BindPort", "7110"},
      {"zimbraPop3ProxyBindPort", "110"},
      {"zimbraPop3SSLBindPort", "7995"},
      {"zimbraPop3SSLProxyBindPort", "995"},
      {"zimbraReverseProxyMailEnabled", "TRUE"},
      {"zimbraMailPort", "8080"},
      {"zimbraMailProxyPort", "80"},
      {"zimbraMailSSLPort", "8443"},
      {"zimbraMailSSLProxyPort", "443"},
      {"zimbraReverseProxyMailMode", "https"},
      {"zimbraReverseProxyHttpEnabled", "TRUE"},
      {"+zimbraServiceEnabled", "proxy"},
  };
  CHECK(server_changes(*plan) == want);
  CHECK_FALSE(listen_warning(node(false, true), *plan));
}

TEST_CASE("proxy_setup: the store mode follows SSL to the upstream") {
  auto n = node(true, false);
  auto plan = plan_proxy_setup(options(true, false, true), n);
  REQUIRE(plan);
  CHECK(server_changes(*plan).at("zimbraMailMode") == "both");
  n.values["zimbraMailMode"] = "https";
  CHECK(server_changes(*plan_proxy_setup(options(true, false, true), n)).at("zimbraMailMode") ==
        "https");
  auto o = options(true, false, true);
  o.ssl_upstream_off = true;
  plan = plan_proxy_setup(o, n);
  REQUIRE(plan);
  CHECK(server_changes(*plan).at("zimbraMailMode") == "http");
  CHECK(server_changes(*plan).at("zimbraReverseProxySSLToUpstreamEnabled") == "FALSE");
  o = options(true, false, true);
  o.mail_mode = "http";
  auto refused = plan_proxy_setup(o, node(true, true));
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message,
             Catch::Contains("zimbraReverseProxySSLToUpstreamEnabled TRUE"));
}

TEST_CASE(
    "proxy_setup: disable on a combined node drops the proxy service when both parts are off") {
  auto n = node(true, true, true);
  auto plan = plan_proxy_setup(options(false, true, false), n);
  REQUIRE(plan);
  CHECK(server_changes(*plan).count("-zimbraServiceEnabled") == 0);
  n.values["zimbraReverseProxyHttpEnabled"] = "FALSE";
  plan = plan_proxy_setup(options(false, true, false), n);
  REQUIRE(plan);
  const auto c = server_changes(*plan);
  CHECK(c.at("-zimbraServiceEnabled") == "proxy");
  CHECK(c.at("zimbraReverseProxyLookupTarget") == "FALSE");
  CHECK(c.at("zimbraImapBindPort") == "143");
}

TEST_CASE("proxy_setup: store-only -c writes the mailbox's admin port (Zimbra wrote the proxy's)") {
  auto o = options(false, false, true);
  o.admin_disable = true;
  o.admin_ports = "7073:9073";
  auto plan = plan_proxy_setup(o, node(true, false));
  REQUIRE(plan);
  CHECK(server_changes(*plan).at("zimbraAdminPort") == "7073");
  CHECK(server_changes(*plan).at("zimbraAdminProxyPort") == "9073");
}

TEST_CASE("proxy_setup: a mailbox that is installed but not enabled needs -o") {
  auto n = node(true, false);
  n.store_enabled = false;
  auto o = options(true, true, false);
  CHECK_FALSE(plan_proxy_setup(o, n));
  o.override_enabled = true;
  CHECK(plan_proxy_setup(o, n));
  CHECK_FALSE(plan_proxy_setup(o, node(false, false)));
}

TEST_CASE("proxy_setup: zmprov lines are quoted for a shell") {
  EntryWrite w{Kind::server,
               "mail.example.com",
               {{AttrChange::Op::set, "zimbraMailMode", "https"},
                {AttrChange::Op::remove, "zimbraServiceEnabled", "proxy"},
                {AttrChange::Op::set, "description", "it's here"},
                {AttrChange::Op::set, "zimbraMailMode", ""}}};
  CHECK(zmprov_command(w) ==
        "zmprov ms mail.example.com zimbraMailMode https -zimbraServiceEnabled proxy "
        "description 'it'\\''s here' zimbraMailMode ''");
  ProxySetupOptions o;
  o.host = "h";
  o.full_reset = true;
  auto plan = plan_proxy_setup(o, node(true, true));
  REQUIRE(plan);
  REQUIRE(plan->size() == 1);
  CHECK_THAT(
      zmprov_command(plan->front()),
      Catch::StartsWith("zmprov mcf zimbraReverseProxyDomainNameQuery "
                        "'(&(zimbraVirtualIPAddress=${IPADDR})(objectClass=zimbraDomain))' "));
}

TEST_CASE("proxy_setup: the 80/443 warning names the attribute to fix") {
  auto n = node(false, true, true);
  auto o = options(true, false, true);
  o.web_ports = "8080:8081:8443:8444";
  auto plan = plan_proxy_setup(o, n);
  REQUIRE(plan);
  auto warning = listen_warning(n, *plan);
  REQUIRE(warning);
  CHECK_THAT(*warning,
             Catch::Contains("zimbraMailProxyPort is 8081 and zimbraMailSSLProxyPort is 8444"));
  CHECK_THAT(*warning, Catch::EndsWith("'zmprov ms mail.example.com zimbraMailSSLProxyPort 443'"));
  // A combined node whose mailbox serves port 80 itself is fine.
  auto combined = node(true, true, true);
  CHECK_FALSE(listen_warning(combined, *plan_proxy_setup(options(false, false, true), combined)));
  // A mailbox-only node never warns: its proxy is elsewhere.
  CHECK_FALSE(listen_warning(node(true, false),
                             *plan_proxy_setup(options(true, true, false), node(true, false))));
  // Proxy-only, web off: the proxy service goes and nothing listens.
  n.values["zimbraReverseProxyMailEnabled"] = "FALSE";
  warning = listen_warning(n, *plan_proxy_setup(options(false, false, true), n));
  REQUIRE(warning);
  CHECK_THAT(*warning, Catch::Contains("the proxy service is off"));
}

// zmproxyconfig: turn a server's IMAP/POP3 proxy and web proxy on or off,
// with Zimbra's flags. Option parsing only; the behaviour is
// zmproxy::provisioning's proxy_setup. Exit codes: 0 ok, 1 usage or options
// that do not fit the server (and -h, as Zimbra's), 2 store errors.

#include "lib/core/home.hpp"
#include "lib/core/version.hpp"
#include "lib/localconfig/localconfig.hpp"
#include "lib/log/audit_log.hpp"
#include "lib/provisioning/open_store.hpp"
#include "lib/provisioning/provisioning.hpp"
#include "lib/provisioning/proxy_setup.hpp"

#include "cmd/common/cli.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace zmproxy;

constexpr int k_ok = 0;
constexpr int k_usage = 1;
constexpr int k_store = 2;

constexpr const char* k_usage_text =
    "usage: zmproxyconfig [-e | -d] [-m] [-w] [options] -H server\n"
    "       zmproxyconfig -f [-e | -d ...] -H server\n\n"
    "  -H, --host NAME          the server to change (its zimbra_server_hostname); required\n"
    "  -e, --enable             enable the proxy parts given by -m and -w\n"
    "  -d, --disable            disable them\n"
    "  -m, --mail               the IMAP/POP3 proxy\n"
    "  -w, --web                the web (HTTP/HTTPS) proxy\n"
    "  -i, --imap-ports A:B:C:D IMAP-STORE:IMAP-PROXY:IMAPS-STORE:IMAPS-PROXY (needs -m)\n"
    "                           default on -e 7143:143:7993:993, on -d 143:7143:993:7993\n"
    "  -p, --pop-ports A:B:C:D  POP-STORE:POP-PROXY:POPS-STORE:POPS-PROXY (needs -m)\n"
    "                           default on -e 7110:110:7995:995, on -d 110:7110:995:7995\n"
    "  -a, --web-ports A:B:C:D  HTTP-STORE:HTTP-PROXY:HTTPS-STORE:HTTPS-PROXY (needs -w)\n"
    "                           default on -e 8080:80:8443:443, on -d 80:0:443:0\n"
    "  -x, --mail-mode MODE     http, https, both, mixed or redirect (needs -w): the proxy's\n"
    "                           mode on -e (default https with SSL to the upstream, else\n"
    "                           http), the mailbox's and the proxy's on -d (default http)\n"
    "  -C, --admin-enable       enable the admin console proxy (needs -w, not with -d)\n"
    "  -c, --admin-disable      disable the admin console proxy (needs -w)\n"
    "  -n, --admin-ports A:B    ADMIN-STORE:ADMIN-PROXY (needs -C or -c), default 7071:9071\n"
    "  -u, --no-ssl-upstream    proxy to the mailboxes in plain text (only with -e)\n"
    "  -U, --ssl-upstream       proxy to the mailboxes over TLS (only with -e)\n"
    "  -s, --secure             on -d: turn cleartext IMAP/POP3 logins off\n"
    "  -t, --no-lookup-target   on -d of a mailbox-only server: not a route lookup target\n"
    "  -o, --override           configure an installed mailbox even if it is not enabled\n"
    "  -r, --remote             allow -H to name another host than this one\n"
    "  -f, --full-reset         reset the global proxy defaults (LDAP queries, memcached\n"
    "                           port, login limits)\n"
    "      --dry-run            print the zmprov commands instead of running them\n"
    "      --home DIR           runtime home (default: $ZMPROXY_HOME, else /opt/zmproxy)\n"
    "      --version            print the version\n"
    "  -h, --help               print this help (-h exits 1, as Zimbra's does)\n\n"
    "What the server runs (mailbox, proxy or both) comes from its zimbraServiceInstalled.\n"
    "See zmproxyconfig(1).\n";

int usage_error(const std::string& what) {
  std::cerr << "zmproxyconfig: " << what << "; see 'zmproxyconfig -h'\n";
  return k_usage;
}

int store_error(const Error& e) {
  std::cerr << "zmproxyconfig: " << e.message << '\n';
  return k_store;
}

// Server names for `-H` completion; nothing when the store is not there.
std::vector<std::string> server_names(const std::string& home_option) {
  std::vector<std::string> out;
  try {
    const core::HomePaths home{core::resolve_home(home_option)};
    auto lc = localconfig::LocalConfig::load(home.localconfig(), home.home);
    if (!lc) {
      return out;
    }
    auto dir = provisioning::open_store(*lc, home);
    if (!dir) {
      return out;
    }
    provisioning::Provisioning prov(**dir, {});
    if (auto servers = prov.list(provisioning::Kind::server)) {
      for (const auto& s : *servers) {
        out.push_back(provisioning::Provisioning::name_of(s, provisioning::Kind::server));
      }
    }
  } catch (const std::exception&) {
  }
  return out;
}

std::vector<std::string> complete_value(std::string_view option,
                                        const std::vector<std::string>& words) {
  if (option == "host") {
    return server_names(cli::option_value(words, "home"));
  }
  if (option == "mail-mode") {
    return {"http", "https", "both", "mixed", "redirect"};
  }
  const bool disable = std::find(words.begin(), words.end(), "-d") != words.end() ||
                       std::find(words.begin(), words.end(), "--disable") != words.end();
  if (option == "imap-ports") {
    return {disable ? "143:7143:993:7993" : "7143:143:7993:993"};
  }
  if (option == "pop-ports") {
    return {disable ? "110:7110:995:7995" : "7110:110:7995:995"};
  }
  if (option == "web-ports") {
    return {disable ? "80:0:443:0" : "8080:80:8443:443"};
  }
  if (option == "admin-ports") {
    return {"7071:9071"};
  }
  return {};
}

int run(provisioning::ProxySetupOptions& o, bool dry_run, const std::string& home_option) {
  if (auto ok = provisioning::validate_options(o); !ok) {
    return usage_error(ok.error().message);
  }
  const core::HomePaths home{core::resolve_home(home_option)};
  auto lc = localconfig::LocalConfig::load(home.localconfig(), home.home);
  if (!lc) {
    return store_error(lc.error());
  }
  auto local = lc->expanded("zimbra_server_hostname");
  if (!local) {
    return store_error(local.error());
  }
  if (auto ok = provisioning::check_local(o, *local); !ok) {
    std::cerr << "zmproxyconfig: " << ok.error().message << '\n';
    return k_usage;
  }
  auto dir = provisioning::open_store(*lc, home);
  if (!dir) {
    return store_error(dir.error());
  }
  provisioning::Provisioning prov(**dir, provisioning::safeguarded_attrs(*lc));
  log::AuditLog audit(home.log() / "audit.log", "zmproxyconfig");
  prov.set_audit(provisioning::audit_sink(audit, "zmproxyconfig", std::cerr));

  auto node = provisioning::read_node(prov, o.host);
  if (!node) {
    std::cerr << "zmproxyconfig: " << node.error().message << '\n';
    return node.error().code == Errc::not_found ? k_usage : k_store;
  }
  auto plan = provisioning::plan_proxy_setup(o, *node);
  if (!plan) {
    std::cerr << "zmproxyconfig: " << plan.error().message << '\n';
    return k_usage;
  }
  if (dry_run) {
    for (const auto& w : *plan) {
      std::cout << provisioning::zmprov_command(w) << '\n';
    }
  } else if (auto ok = provisioning::apply_proxy_setup(prov, *plan); !ok) {
    return store_error(ok.error());
  }
  if (auto warning = provisioning::listen_warning(*node, *plan)) {
    std::cerr << "zmproxyconfig: warning: " << *warning << '\n';
  }
  return k_ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Turn a server's mail and web proxy on or off", "zmproxyconfig"};
  app.set_help_flag();  // -h is Zimbra's (usage, exit 1); both are added below
  provisioning::ProxySetupOptions o;
  bool dry_run = false;
  bool help_short = false;
  bool help_long = false;
  bool version = false;
  std::string home;
  app.add_option("-H,--host", o.host, "The server to change (its zimbra_server_hostname)");
  app.add_flag("-e,--enable", o.enable, "Enable the proxy parts given by -m and -w");
  app.add_flag("-d,--disable", o.disable, "Disable the proxy parts given by -m and -w");
  app.add_flag("-m,--mail", o.mail, "The IMAP/POP3 proxy");
  app.add_flag("-w,--web", o.web, "The web proxy");
  app.add_option("-i,--imap-ports", o.imap_ports, "IMAP-STORE:IMAP-PROXY:IMAPS-STORE:IMAPS-PROXY");
  app.add_option("-p,--pop-ports", o.pop_ports, "POP-STORE:POP-PROXY:POPS-STORE:POPS-PROXY");
  app.add_option("-a,--web-ports", o.web_ports, "HTTP-STORE:HTTP-PROXY:HTTPS-STORE:HTTPS-PROXY");
  app.add_option("-x,--mail-mode", o.mail_mode, "http, https, both, mixed or redirect");
  app.add_flag("-C,--admin-enable", o.admin_enable, "Enable the admin console proxy");
  app.add_flag("-c,--admin-disable", o.admin_disable, "Disable the admin console proxy");
  app.add_option("-n,--admin-ports", o.admin_ports, "ADMIN-STORE:ADMIN-PROXY");
  app.add_flag("-u,--no-ssl-upstream", o.ssl_upstream_off, "Plain text to the mailboxes");
  app.add_flag("-U,--ssl-upstream", o.ssl_upstream_on, "TLS to the mailboxes");
  app.add_flag("-s,--secure", o.secure, "On -d: cleartext IMAP/POP3 logins off");
  app.add_flag("-t,--no-lookup-target", o.lookup_target_off, "On -d: not a route lookup target");
  app.add_flag("-o,--override", o.override_enabled, "Treat an installed mailbox as enabled");
  app.add_flag("-r,--remote", o.remote, "Allow -H to name another host");
  app.add_flag("-f,--full-reset", o.full_reset, "Reset the global proxy defaults");
  app.add_flag("--dry-run", dry_run, "Print the zmprov commands instead of running them");
  app.add_option("--home", home, "Runtime home (default: $ZMPROXY_HOME, else /opt/zmproxy)");
  app.add_flag("--version", version, "Print the version");
  app.add_flag("-h", help_short, "Print the usage and exit 1");
  app.add_flag("--help", help_long, "Print the usage");

  try {
    if (argc >= 2 && std::string_view(argv[1]) == "__complete") {
      std::vector<std::string> words(argv + 2, argv + argc);
      if (words.empty()) {
        words.emplace_back();
      }
      for (const auto& c : cli::complete(app, words, complete_value)) {
        std::cout << c << '\n';
      }
      return k_ok;
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return usage_error(e.what());
    }
    if (help_short || help_long) {
      std::cout << k_usage_text;
      return help_short ? k_usage : k_ok;
    }
    if (version) {
      std::cout << "zmproxyconfig (zmproxy) " << k_version << '\n';
      return k_ok;
    }
    return run(o, dry_run, home);
  } catch (const std::exception& e) {
    std::cerr << "zmproxyconfig: error: " << e.what() << '\n';
    return k_store;
  }
}

// zmlookupd: the Route Lookup Handler (Zimbra's nginx-lookup protocol) over
// zmproxy's store. Arguments only; the behaviour is route::LookupServer.

#include "lib/core/address.hpp"
#include "lib/core/home.hpp"
#include "lib/core/strings.hpp"
#include "lib/core/version.hpp"
#include "lib/localconfig/localconfig.hpp"
#include "lib/log/logger.hpp"
#include "lib/provisioning/change_feed.hpp"
#include "lib/provisioning/open_store.hpp"
#include "lib/provisioning/provisioning.hpp"
#include "lib/route/lookup_server.hpp"
#include "lib/route/route_index.hpp"
#include "lib/process/fd_limit.hpp"
#include "lib/process/service_user.hpp"

#include "cmd/common/cli.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <iostream>

namespace {

// zmlookupd_bind_address at this server's zimbraExtensionBindPort (server,
// else global, else 7072).
std::string default_listen(zmproxy::provisioning::Directory& dir,
                           const std::string& server_name,
                           const std::string& address) {
  using namespace zmproxy;
  provisioning::Provisioning prov(dir, {});
  schema::Kind kind = schema::Kind::server;
  auto entry = prov.get(kind, server_name);
  if (!entry) {
    kind = schema::Kind::global;
    entry = prov.get(kind, "");
  }
  std::string port = "7072";
  if (entry) {
    if (auto v = prov.effective(*entry, kind, "zimbraExtensionBindPort"); v && !v->empty()) {
      port = v->front();
    }
  }
  return core::format_host(address) + ":" + port;
}

// Issue 19: zmproxy_control_bind_address at this server's
// zmlookupdControlPort; "" when the entry has none (or 0): no endpoint.
std::string control_listen(zmproxy::provisioning::Directory& dir,
                           const std::string& server_name,
                           const std::string& address) {
  using namespace zmproxy;
  provisioning::Provisioning prov(dir, {});
  auto entry = prov.get(schema::Kind::server, server_name);
  if (!entry) {
    return "";
  }
  const std::string port = entry->first("zmlookupdControlPort");
  if (port.empty() || port == "0") {
    return "";
  }
  return core::format_host(address) + ":" + port;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace zmproxy;
  CLI::App app{"Route Lookup Handler: answers nginx-lookup requests from the store", "zmlookupd"};
  app.set_version_flag("--version", std::string("zmlookupd (zmproxy) ") + k_version);
  std::string home_opt;
  std::string listen;
  std::string log_file;
  std::string level = "info";
  app.add_option("--home", home_opt, "Runtime home (default: $ZMPROXY_HOME, else /opt/zmproxy)");
  app.add_option("--listen", listen,
                 "Address and port, e.g. 127.0.0.1:7072 (default: localconfig "
                 "zmlookupd_bind_address and this server's zimbraExtensionBindPort)");
  cli::add_log_options(app, log_file, level);
  return cli::run(
      app, argc, argv,
      [&]() -> int {
        std::signal(SIGPIPE, SIG_IGN);
        if (!cli::start_log("zmlookupd", log_file, level)) {
          return 1;
        }
        const core::HomePaths home{core::resolve_home(home_opt)};
        auto lc = localconfig::LocalConfig::load(home.localconfig(), home.home);
        if (!lc) {
          std::cerr << "zmlookupd: " << lc.error().message << "\n";
          return 1;
        }
        auto store = provisioning::open_store(*lc, home);
        if (!store) {
          std::cerr << "zmlookupd: " << store.error().message << "\n";
          return 1;
        }
        route::LookupServerOptions options;
        options.handler_server = lc->value_or_empty("zimbra_server_hostname");
        options.secret = lc->value_or_empty("zmlookupd_secret");
        for (const auto& p : core::split(lc->value_or_empty("zmlookupd_allowed_peers"), ',')) {
          if (!core::trim(p).empty()) {
            options.allowed_peers.emplace_back(core::trim(p));
          }
        }
        try {
          options.max_connections = std::stoi(lc->value_or_empty("zmlookupd_max_connections"));
        } catch (const std::exception&) {
          std::cerr << "zmlookupd: zmlookupd_max_connections must be a number; fix it with "
                       "zmlocalconfig -e zmlookupd_max_connections=1000\n";
          return 1;
        }
        const auto fds = process::raise_fd_limit(static_cast<std::uint64_t>(std::max(options.max_connections, 1)),
                                                "zmlookupd", "zmlookupd_max_connections");
        if (!fds.warning.empty()) {
          ZMPROXY_LOG(warn, "zmlookupd", "{}", fds.warning);
        }
        // Started as root: the port is bound first (it may be below 1024),
        // then zmlookupd runs as zimbra_user for good; it needs no port later.
        options.after_listen = [&]() -> Result<void> {
          auto user = lc->value_or_empty("zimbra_user");
          return process::drop_root(user.empty() ? std::string(process::k_default_service_user) : user,
                                   home, false, "zmlookupd");
        };
        options.control_socket = home.run() / "zmlookupd.sock";
        options.address_file = home.run() / "zmlookupd.addr";
        provisioning::Directory& dir = **store;
        if (listen.empty()) {
          listen = default_listen(dir, options.handler_server,
                                  lc->value_or_empty("zmlookupd_bind_address"));
        }
        options.listen = listen;
        options.control_listen = control_listen(dir, options.handler_server,
                                                lc->value_or_empty("zmproxy_control_bind_address"));
        options.control_secret = lc->value_or_empty("zmproxy_control_secret");
        route::LookupServer server(options, [&dir]() { return route::RouteIndex::build(dir); });
        auto feed = provisioning::open_change_feed(*lc, home);
        if (!feed) {
          ZMPROXY_LOG(warn, "zmlookupd", "no change feed ({}); the index changes only on FLUSH",
                      feed.error().message);
        } else if (auto started = (*feed)->start([&server](std::string_view what) {
                     server.reload(what);
                   });
                   !started) {
          ZMPROXY_LOG(warn, "zmlookupd", "change feed not started: {}", started.error().message);
        }
        const int rc = server.run();
        if (feed) {
          (*feed)->stop();
        }
        return rc;
      },
      cli::complete_log_level);
}

// zmproxypurge: delete an account's cached routes from every memcached server
// (as Zimbra's), then tell every proxy in the store that has a control
// endpoint to forget the account's names (issue 19). Arguments only; keys
// come from route::purge_keys, the proxies from ctl::fleet_members.

#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cmd/common/cli.hpp"
#include "lib/core/home.hpp"
#include "lib/core/strings.hpp"
#include "lib/core/version.hpp"
#include "lib/ctl/fleet_forget.hpp"
#include "lib/localconfig/localconfig.hpp"
#include "lib/provisioning/open_store.hpp"
#include "lib/provisioning/provisioning.hpp"
#include "lib/route/memcached_cache.hpp"
#include "lib/route/purge.hpp"
#include "lib/route/route_index.hpp"

int main(int argc, char** argv) {
  using namespace zmproxy;
  CLI::App app{"Delete an account's cached routes from memcached", "zmproxypurge"};
  app.set_version_flag("--version", std::string("zmproxypurge (zmproxy) ") + k_version);
  std::string home_opt;
  std::vector<std::string> accounts;
  std::string list_file;
  bool info = false;
  bool verbose = false;
  std::vector<std::string> extra;
  app.add_option("--home", home_opt, "Runtime home (default: $ZMPROXY_HOME, else /opt/zmproxy)");
  app.add_option("-a,--account", accounts, "Account name, alias or zimbraId (repeatable, or comma separated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  app.add_option("-L,--list", list_file, "File with one account per line");
  app.add_flag("-i,--info", info, "Only show the cached keys and values; delete nothing");
  app.add_flag("-v,--verbose", verbose, "Print every key");
  app.add_option("servers", extra, "Additional memcached servers host:port");
  const auto dynamic = [](std::string_view, const std::vector<std::string>&) {
    return std::vector<std::string>{};
  };
  return cli::run(
      app, argc, argv,
      [&]() -> int {
        if (!list_file.empty()) {
          std::ifstream in(list_file);
          if (!in) {
            std::cerr << "zmproxypurge: cannot read " << list_file << "\n";
            return 1;
          }
          for (std::string line; std::getline(in, line);) {
            if (!core::trim(line).empty() && core::trim(line).front() != '#') {
              accounts.emplace_back(core::trim(line));
            }
          }
        }
        if (accounts.empty()) {
          std::cerr << "zmproxypurge: name an account with -a (or -L file); see 'zmproxypurge --help'\n";
          return 2;
        }
        const core::HomePaths home{core::resolve_home(home_opt)};
        auto lc = localconfig::LocalConfig::load(home.localconfig(), home.home);
        if (!lc) {
          std::cerr << "zmproxypurge: " << lc.error().message << "\n";
          return 1;
        }
        auto store = provisioning::open_store(*lc, home);
        if (!store) {
          std::cerr << "zmproxypurge: " << store.error().message << "\n";
          return 1;
        }
        auto index = route::RouteIndex::build(**store);
        if (!index) {
          std::cerr << "zmproxypurge: " << index.error().message << "\n";
          return 1;
        }
        auto servers = route::memcached_servers(**index, lc->value_or_empty("zimbra_server_hostname"));
        servers.insert(servers.end(), extra.begin(), extra.end());
        if (servers.empty()) {
          std::cerr << "zmproxypurge: no memcached servers: set zimbraMemcachedClientServerList, enable "
                       "the memcached service on a server, or name servers as arguments\n";
          return 1;
        }
        // The proxies to tell (those the store lists with a zmproxyControlPort).
        std::vector<ctl::FleetMember> proxies;
        if (!info) {
          auto members = ctl::fleet_members(**store, ctl::FleetRole::proxy);
          if (!members) {
            std::cerr << "zmproxypurge: " << members.error().message << "\n";
            return 1;
          }
          for (auto& m : *members) {
            if (m.port != 0) {
              proxies.push_back(std::move(m));
            }
          }
        }
        ctl::FleetAsk ask;
        ask.secret = lc->value_or_empty("zmproxy_control_secret");
        int rc = 0;
        for (const std::string& key_text : accounts) {
          provisioning::Provisioning prov(**store, {});
          auto account = prov.get(schema::Kind::account, key_text);
          if (!account) {
            std::cerr << "zmproxypurge: " << account.error().message << "\n";
            rc = 1;
            continue;
          }
          const auto keys = route::purge_keys(*account, **index, {});
          std::size_t found = 0;
          for (const std::string& server : servers) {
            route::MemcachedSettings settings;
            settings.servers = {server};
            auto cache = route::MemcachedCache::create(settings);
            if (!cache) {
              std::cerr << "zmproxypurge: " << cache.error().message << "\n";
              rc = 1;
              continue;
            }
            for (const std::string& key : keys) {
              if (info) {
                if (auto v = (*cache)->get(key)) {
                  std::cout << server << " " << key << " -> " << *v << "\n";
                  ++found;
                }
              } else {
                const bool had = (*cache)->get(key).has_value();
                (*cache)->remove_everywhere(key);
                if (had) {
                  ++found;
                  if (verbose) {
                    std::cout << server << " purged " << key << "\n";
                  }
                }
              }
            }
            if (const std::string err = (*cache)->last_error(); !err.empty()) {
              std::cerr << "zmproxypurge: " << server << ": " << err << "\n";
              rc = 1;
            }
          }
          if (!info && !ctl::forget_on_proxies(proxies, *account, key_text, ask, verbose,
                                               std::cout, std::cerr)) {
            rc = 1;
          }
          if (!info) {
            std::cout << "purged " << found << " cached entries for "
                      << account->first("zimbraMailDeliveryAddress") << " (" << keys.size()
                      << " keys checked on " << servers.size() << " servers)\n";
          }
        }
        return rc;
      },
      dynamic);
}

// zmproxyctl: start, stop, restart, reload, status and genconf for zmproxyd,
// throttle (the fleet's login-throttling counters) and forget (zmproxyd's
// in-process routes).
// Arguments only; the verbs are ctl::proxy_* (lib/ctl/proxy_control,
// lib/ctl/throttle_control).
// Exit codes as Zimbra's zmproxyctl: 0 ok, 1 failed or not running, 1 usage.

#include "lib/core/home.hpp"
#include "lib/core/version.hpp"
#include "lib/ctl/fleet_status.hpp"
#include "lib/ctl/proxy_control.hpp"
#include "lib/ctl/route_forget.hpp"
#include "lib/ctl/throttle_control.hpp"

#include "cmd/common/cli.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  using namespace zmproxy;
  CLI::App app{"Control the zmproxy proxy daemon (zmproxyd)", "zmproxyctl"};
  app.set_version_flag("--version", std::string("zmproxyctl (zmproxy) ") + k_version);
  std::string home_opt;
  std::string verb;
  ctl::ControlOptions o;
  bool no_genconf = false;
  double grace = -1;
  std::vector<std::string> args;
  bool forget_all = false;
  app.add_option("command", verb, "start, stop, restart, reload, status, genconf, throttle or forget")
      ->required();
  app.add_option("args", args,
                 "throttle: list, show ADDRESS-OR-USER or clear ADDRESS-OR-USER; forget: account names");
  app.add_flag("--all", forget_all, "forget: every user's in-process routes");
  app.add_option("--home", home_opt, "Runtime home (default: $ZMPROXY_HOME, else /opt/zmproxy)");
  app.add_flag("--no-genconf", no_genconf, "start/reload: do not render the configuration first");
  app.add_flag("--json", o.json, "status: print one JSON object; throttle list/show: a JSON array");
  app.add_flag("--fleet", o.fleet,
               "status: ask every proxy server in the store over its control endpoint, one line "
               "each");
  app.add_option("--grace", grace,
                 "stop/restart: seconds to let open sessions finish (default: drain_timeout)");
  app.add_flag("-n,--dry-run", o.dry_run, "genconf: print the configuration, write nothing");
  app.add_flag("-D,--variables", o.print_variables,
               "genconf: print the resolved template variables");
  app.add_option("-s,--server", o.server,
                 "genconf: render for this server (default: zimbra_server_hostname)");
  const auto dynamic = [](std::string_view option, const std::vector<std::string>& words) {
    if (!option.empty()) {
      return std::vector<std::string>{};
    }
    // The positional words typed before the one being completed.
    std::vector<std::string> typed;
    for (std::size_t i = 0; i + 1 < words.size(); ++i) {
      const std::string& w = words[i];
      if (w == "--home" || w == "--grace" || w == "-s" || w == "--server") {
        ++i;  // and its value
      } else if (w.rfind('-', 0) != 0) {
        typed.push_back(w);
      }
    }
    if (typed.empty()) {
      return std::vector<std::string>{"start",  "stop",    "restart",  "reload",
                                      "status", "genconf", "throttle", "forget"};
    }
    if (typed.size() == 1 && typed[0] == "throttle") {
      return std::vector<std::string>{"list", "show", "clear"};
    }
    return std::vector<std::string>{};
  };
  return cli::run(
      app, argc, argv,
      [&]() -> int {
        o.home = core::HomePaths{core::resolve_home(home_opt)};
        if (verb == "throttle") {
          return ctl::proxy_throttle(ctl::ThrottleOptions{o.home, args, o.json}, std::cout,
                                     std::cerr);
        }
        if (verb == "forget") {
          return ctl::proxy_forget(o.home, args, forget_all, std::cout, std::cerr);
        }
        if (!args.empty()) {
          std::cerr << "zmproxyctl: unexpected argument '" << args.front() << "' after " << verb
                    << "; see 'zmproxyctl --help'\n";
          return cli::k_exit_usage;
        }
        if (o.fleet && verb != "status") {
          std::cerr << "zmproxyctl: --fleet goes with status only; see 'zmproxyctl --help'\n";
          return cli::k_exit_usage;
        }
        if (o.fleet) {
          return ctl::proxy_status_fleet(o, std::cout, std::cerr);
        }
        o.genconf = !no_genconf;
        if (grace >= 0) {
          o.grace = grace;
        }
        std::error_code ec;
        o.daemon = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "zmproxyd";
        if (verb == "start")
          return ctl::proxy_start(o, std::cout, std::cerr);
        if (verb == "stop")
          return ctl::proxy_stop(o, std::cout, std::cerr);
        if (verb == "restart") {
          const int rc = ctl::proxy_stop(o, std::cout, std::cerr);
          return rc != 0 ? rc : ctl::proxy_start(o, std::cout, std::cerr);
        }
        if (verb == "reload")
          return ctl::proxy_reload(o, std::cout, std::cerr);
        if (verb == "status")
          return ctl::proxy_status(o, std::cout, std::cerr);
        if (verb == "genconf")
          return ctl::proxy_genconf(o, std::cout, std::cerr);
        std::cerr
            << "usage: zmproxyctl start|stop|restart|reload|status|genconf|throttle|forget [options]; see "
               "zmproxyctl(1)\n";
        return 1;
      },
      dynamic);
}

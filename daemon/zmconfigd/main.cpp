// zmconfigd: follows the store, localconfig and the template overrides, and
// keeps zmproxyd's configuration current with hot reloads. Arguments only;
// the behaviour is confgen::ConfigWatcher.

#include <unistd.h>

#include "lib/confgen/watcher.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/core/home.hpp"
#include "lib/core/pid_file.hpp"
#include "lib/core/version.hpp"
#include "lib/localconfig/localconfig.hpp"
#include "lib/log/logger.hpp"
#include "lib/process/service_user.hpp"

#include "cmd/common/cli.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

int main(int argc, char** argv) {
  using namespace zmproxy;
  CLI::App app{"Keep zmproxyd's configuration current (Zimbra's zmconfigd for the proxy)",
               "zmconfigd"};
  app.set_version_flag("--version", std::string("zmconfigd (zmproxy) ") + k_version);
  std::string home_opt;
  std::string log_file;
  std::string level = "info";
  int debounce_ms = 200;
  app.add_option("--home", home_opt, "Runtime home (default: $ZMPROXY_HOME, else /opt/zmproxy)");
  cli::add_log_options(app, log_file, level);
  app.add_option("--debounce", debounce_ms,
                 "Quiet period after a change before rendering, in ms (default 200)")
      ->check(CLI::Range(0, 10000));
  return cli::run(
      app, argc, argv,
      [&]() -> int {
        // Signals are taken by the watcher's signal_set; SIGPIPE never kills it.
        std::signal(SIGPIPE, SIG_IGN);
        if (!cli::start_log("zmconfigd", log_file, level)) {
          return 1;
        }
        const core::HomePaths home{core::resolve_home(home_opt)};
        // zmconfigd binds no port and reads no key outside the home: started
        // as root, it becomes zimbra_user before anything else (it writes
        // conf/ and asks zmproxyd, running as the same user, to reload).
        std::string user = process::k_default_service_user;
        if (auto lc = localconfig::LocalConfig::load(home.localconfig(), home.home)) {
          if (const std::string v = lc->value_or_empty("zimbra_user"); !v.empty()) {
            user = v;
          }
        }
        if (auto dropped = process::drop_root(user, home, false, "zmconfigd"); !dropped) {
          std::cerr << dropped.error().message << "\n";
          return 1;
        }
        std::error_code ec;
        std::filesystem::create_directories(home.run(), ec);
        auto pid_file = core::PidFile::acquire(home.run() / "zmconfigd.pid");
        if (!pid_file) {
          std::cerr << "zmconfigd: " << pid_file.error().message << "\n";
          return 1;
        }
        confgen::WatcherOptions options{home, std::chrono::milliseconds(debounce_ms), {}};
        confgen::ConfigWatcher watcher(options);
        return watcher.run();
      },
      cli::complete_log_level);
}

// zmproxyd: the IMAP/POP3 proxy daemon. Arguments only; the behaviour is
// server::ProxyServer over conf/zmproxy.conf.

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cmd/common/cli.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/core/home.hpp"
#include "lib/core/pid_file.hpp"
#include "lib/core/version.hpp"
#include "lib/log/logger.hpp"
#include "lib/config/proxy_config.hpp"
#include "lib/process/fd_limit.hpp"
#include "lib/server/generation.hpp"
#include "lib/server/proxy_server.hpp"

int main(int argc, char** argv) {
  using namespace zmproxy;
  // Before any thread exists: SIGTERM/SIGINT are taken by sigwait in the
  // main thread only; SIGPIPE never kills the proxy.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"IMAP/POP3 reverse proxy (Zimbra compatible)", "zmproxyd"};
  app.set_version_flag("--version", std::string("zmproxyd (zmproxy) ") + k_version);
  std::string home_opt;
  std::string config_opt;
  bool check = false;
  app.add_option("--home", home_opt, "Runtime home (default: $ZMPROXY_HOME, else /opt/zmproxy)");
  app.add_option("-c,--config", config_opt, "Configuration file (default: <home>/conf/zmproxy.conf)");
  app.add_flag("-t,--check", check, "Check the configuration and exit");
  return cli::run(app, argc, argv, [&]() -> int {
    const core::HomePaths home{core::resolve_home(home_opt)};
    const std::filesystem::path file = config_opt.empty() ? home.conf() / "zmproxy.conf" : std::filesystem::path(config_opt);
    auto config = config::load_config(file, home.home);
    if (!config) {
      std::cerr << "zmproxyd: " << config.error().message << "\n";
      return 1;
    }
    if (check) {
      if (auto tls = server::check_tls(**config); !tls) {
        std::cerr << "zmproxyd: " << tls.error().message << "\n";
        return 1;
      }
      std::cout << "zmproxyd: " << file.string() << " is valid\n";
      return 0;
    }
    const auto& c = **config;
    // Started as root: the service user gets run/, log/, conf/ now; the
    // drop itself comes once the listeners are bound (ProxyServer::run).
    auto user = process::service_user_to_become(c.server.user);
    if (!user) {
      std::cerr << "zmproxyd: " << user.error().message << " (server.user in " << file.string()
                << ")\n";
      return 1;
    }
    if (*user) {
      if (auto handed = process::hand_home_to(home, **user); !handed) {
        std::cerr << "zmproxyd: " << handed.error().message << "\n";
        return 1;
      }
    }
    const auto fds = process::raise_fd_limit(
        static_cast<std::uint64_t>(c.server.workers) * static_cast<std::uint64_t>(c.server.worker_connections),
        "zmproxyd", "server.workers x server.worker_connections");
    log::set_level(log::parse_level(c.server.log_level, log::Level::info));
    if (!c.server.log_file.empty() && !log::set_file(c.path(c.server.log_file))) {
      std::cerr << "zmproxyd: cannot open log file " << c.path(c.server.log_file).string() << "\n";
      return 1;
    }
    std::error_code ec;
    std::filesystem::create_directories(home.run(), ec);
    // One zmproxyd per home (SO_REUSEPORT would let a second one share the
    // ports): the pid file stays locked while this one runs.
    auto pid_file = core::PidFile::acquire(home.run() / "zmproxyd.pid");
    if (!pid_file) {
      std::cerr << "zmproxyd: " << pid_file.error().message << "\n";
      return 1;
    }
    if (!fds.warning.empty()) {
      ZMPROXY_LOG(warn, "proxy", "{}", fds.warning);
    }
    server::ProxyServer server(file, home.home);
    if (*user) {
      server.run_as(**user);
    }
    return server.run(*config);
  });
}

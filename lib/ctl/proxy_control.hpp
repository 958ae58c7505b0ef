#pragma once
// zmproxyctl's verbs over one runtime home: start, stop, restart, reload,
// status and genconf. Messages and exit codes follow Zimbra's zmproxyctl
// (REFERENCE-zimbra §6.1) where it has them: "Starting proxy...done.",
// "proxy is running." (0) / "proxy is not running." (1); usage errors 1.

#include "lib/core/home.hpp"

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

namespace zmproxy::ctl {

struct ControlOptions {
  core::HomePaths home;
  std::filesystem::path daemon;  // the zmproxyd binary
  bool genconf = true;           // render the configuration first (start, reload)
  bool json = false;             // status
  std::optional<double> grace;   // stop: seconds to drain (default: server.drain_timeout)
  bool dry_run = false;          // genconf -n: print, write nothing
  bool print_variables = false;  // genconf -D
  std::string server;            // genconf -s (default: zimbra_server_hostname)
  bool fleet = false;            // status --fleet: every proxy in the store (fleet_status.hpp)
};

int proxy_start(const ControlOptions& o, std::ostream& out, std::ostream& err);
int proxy_stop(const ControlOptions& o, std::ostream& out, std::ostream& err);
int proxy_reload(const ControlOptions& o, std::ostream& out, std::ostream& err);
int proxy_status(const ControlOptions& o, std::ostream& out, std::ostream& err);
int proxy_genconf(const ControlOptions& o, std::ostream& out, std::ostream& err);

// The pid of the zmproxyd of this home when it is alive.
std::optional<long> running_pid(const core::HomePaths& home);

}  // namespace zmproxy::ctl

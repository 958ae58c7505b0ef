#pragma once
// ConfigWatcher: the core of zmconfigd. It follows everything the proxy's
// configuration is made of — the store (RFC 4533 syncrepl for LDAP, inotify
// for the embedded file), conf/localconfig.toml and the template override in
// conf/templates.d/ — pushed, not polled. A change starts a short quiet
// period (debounce); then the configuration is rendered, and if it differs it
// is validated and handed to zmproxyd (confgen::install). A safety re-read
// runs every zmconfigd_interval seconds. Every decision is logged; the last
// one that changed something (or was refused) is kept in run/confgen.state
// for `zmproxyctl status`.
//
// Control socket run/zmconfigd.sock: "REWRITE" renders now and answers
// "OK <what happened>" or "ERROR <why>"; "STATUS" answers the state JSON.
// SIGHUP renders now; SIGTERM/SIGINT stop.

#include "lib/core/home.hpp"

#include <chrono>
#include <memory>

namespace zmproxy::confgen {

struct WatcherOptions {
  core::HomePaths home;
  std::chrono::milliseconds debounce{200};
  std::chrono::milliseconds interval{0};  // 0 = localconfig zmconfigd_interval
};

class ConfigWatcher {
 public:
  explicit ConfigWatcher(WatcherOptions options);
  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  // Serve until SIGTERM/SIGINT; the exit code.
  int run();

  struct Impl;

 private:
  std::unique_ptr<Impl> m_impl;
};

}  // namespace zmproxy::confgen

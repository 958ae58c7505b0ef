#pragma once
// ProxyServer: zmproxyd's core. N worker threads, each with its own
// io_context and one SO_REUSEPORT acceptor per listener (IMAP, IMAPS, POP3,
// POP3S, HTTP, HTTPS, admin); a session stays on the worker that accepted it.
//
// Hot reload (SIGHUP, or RELOAD on the control socket run/zmproxyd.sock):
// the configuration file is read again and validated; listeners whose
// protocol, address and port are unchanged are kept, new ones are bound
// before anything is committed, and only then is the new generation swapped
// in (one atomic pointer) and the old listeners closed. Sessions keep the
// generation they were accepted with. A configuration that fails is refused
// with its reason and the running one keeps serving.
//
// Control socket, one command a connection, one reply line:
//   RELOAD [file]    -> "OK generation N version V" | "ERROR <reason>"; with a
//                       file: serve it and, once accepted, rename it over the
//                       configuration file (the file on disk stays the last
//                       good one)
//   STATUS           -> one JSON object (uptime, version, last reload, counts)
//   STOP [seconds]   -> "OK stopping"; drains open sessions up to the grace
//   FORGET ALL | FORGET <name> [<name> ...]  (at most 100 names)
//                    -> "OK forgot N" | "ERROR <reason>"; drops those users'
//                       in-process routes (route/forget_command.hpp)
// The bound addresses are written to run/zmproxyd.addr ("imap 127.0.0.1:143").

#include "lib/core/result.hpp"
#include "lib/config/proxy_config.hpp"
#include "lib/process/service_user.hpp"

#include <filesystem>
#include <memory>

namespace zmproxy::server {

class ProxyServer {
 public:
  // `file` is read again on every reload.
  ProxyServer(std::filesystem::path file, std::filesystem::path home);
  ~ProxyServer();
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  // Started as root: become `user` once the first listeners are bound and
  // the keys read (service_user.hpp); must be called before run().
  void run_as(process::ServiceUser user);

  // Open everything, serve until SIGTERM/SIGINT or STOP, drain, return the
  // exit code. SIGUSR1 reopens the log files.
  int run(std::shared_ptr<const config::ProxyConfig> initial);

  struct Impl;

 private:
  std::unique_ptr<Impl> m_impl;
};

}  // namespace zmproxy::server

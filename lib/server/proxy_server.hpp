#pragma once
// ProxyServer: zmproxyd's core. N worker threads, each with its own
// io_context and one SO_REUSEPORT acceptor per listener (IMAP, IMAPS, POP3,
// POP3S); a session stays on the worker that accepted it. A per-worker
// connection limit; one RouteResolver shared by all workers. The bound
// addresses are written to run/zmproxyd.addr ("imap 127.0.0.1:143" lines).

#include <memory>

#include "lib/core/result.hpp"
#include "lib/server/config.hpp"

namespace zmproxy::server {

class ProxyServer {
 public:
  explicit ProxyServer(std::shared_ptr<const ProxyConfig> config);
  ~ProxyServer();
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  // Open everything, serve until SIGTERM/SIGINT, drain, return the exit code.
  int run();

  struct Impl;

 private:
  std::unique_ptr<Impl> m_impl;
};

}  // namespace zmproxy::server

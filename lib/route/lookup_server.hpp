#pragma once
// LookupServer: zmlookupd's HTTP side. Serves Zimbra's nginx-lookup protocol
// (HTTP/1.0 and HTTP/1.1 keep-alive) from the current RouteIndex, resolves
// host names asynchronously (with a small cache), optionally authenticates
// callers (allowed peer addresses and/or a shared-secret header), and listens
// on a control socket for FLUSH (rebuild the index, clear caches) and STATS.
// Without a secret it listens on loopback addresses only. Callers outside
// allowed_peers get 403 before a byte of their request is read; at most
// max_connections are served at once; SIGUSR1 reopens the log file.
// One I/O thread; the index is rebuilt on a separate thread and swapped in
// atomically, so a lookup never waits for the store. The HTTP framing is
// lookup_http.*, who may ask and where it may listen lookup_access.*.

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/result.hpp"
#include "lib/route/route_index.hpp"

namespace zmproxy::route {

struct LookupServerOptions {
  std::string listen = "127.0.0.1:7072";   // address:port ("[::1]:7072" for v6); port 0 = any
  std::string handler_server;              // this server's name (zimbra_server_hostname)
  std::vector<std::string> allowed_peers;  // addresses/CIDRs allowed to ask; empty = anyone
  std::string secret;                      // required X-Zmproxy-Lookup-Secret; empty = none
  std::filesystem::path control_socket;    // unix socket for FLUSH/STATS; empty = none
  std::filesystem::path address_file;      // written with "address:port" once listening
  int max_connections = 1000;              // served at once; more wait in the accept queue
  // Called once the port is bound, before anything else is opened (the
  // daemon drops root here); an error stops the server.
  std::function<Result<void>()> after_listen;
  // Issue 19: the control endpoint over TCP (FLUSH, STATS; lib/net/
  // control_endpoint.hpp): "address:port", empty = none; its secret.
  std::string control_listen;
  std::string control_secret;
};

using IndexLoader = std::function<Result<std::shared_ptr<const RouteIndex>>()>;

class LookupServer {
 public:
  LookupServer(LookupServerOptions options, IndexLoader loader);
  ~LookupServer();
  LookupServer(const LookupServer&) = delete;
  LookupServer& operator=(const LookupServer&) = delete;

  // Load the first index, listen, and serve until SIGTERM/SIGINT or stop().
  // Returns the process exit code (1 when it cannot listen or load).
  int run();
  // Thread-safe: rebuild the index from the store (the change feed calls it).
  void reload(std::string_view why);
  // Thread-safe: make run() return.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> m_impl;
};

}  // namespace zmproxy::route

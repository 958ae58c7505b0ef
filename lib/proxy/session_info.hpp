#pragma once
// What the access log says about one connection (mail or web): who, where
// to, how many bytes, how long, how it ended.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "lib/log/access_log.hpp"
#include "lib/net/asio.hpp"

namespace zmproxy::proxy {

struct SessionInfo {
  std::string protocol;  // imap imaps pop3 pop3s
  std::string client_ip;
  unsigned short client_port = 0;
  std::string local_ip;
  unsigned short local_port = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::string user;
  std::string upstream;
  std::string outcome = "closed";
  std::string detail;  // more on the outcome (the tarpit's wait), or nothing

  void log_to(log::AccessLog& log) const;
};

// The socket's ends, or for the client `client` when given: the address
// accept4 returned or a PROXY protocol header carried
// (lib/server/listeners.cpp), which then is the client's everywhere
// (routing, throttling, ID/XOIP, X-Forwarded-For, this log); for the local
// end `local` when given (the listener's address), else getsockname.
SessionInfo describe_peer(const net::tcp::socket& socket, std::string protocol,
                          const std::optional<net::tcp::endpoint>& client = std::nullopt,
                          const std::optional<net::tcp::endpoint>& local = std::nullopt);

}  // namespace zmproxy::proxy

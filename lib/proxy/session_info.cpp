#include "lib/proxy/session_info.hpp"

namespace zmproxy::proxy {

void SessionInfo::log_to(log::AccessLog& log) const {
  log::AccessRecord r;
  r.client = client_ip + ":" + std::to_string(client_port);
  r.protocol = protocol;
  r.user = user;
  r.upstream = upstream;
  r.bytes_in = bytes_in;
  r.bytes_out = bytes_out;
  r.millis = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
  r.outcome = outcome;
  r.detail = detail;
  log.write(r);
}

SessionInfo describe_peer(const net::tcp::socket& socket, std::string protocol,
                          const std::optional<net::tcp::endpoint>& client,
                          const std::optional<net::tcp::endpoint>& local) {
  SessionInfo info;
  info.protocol = std::move(protocol);
  boost::system::error_code ec;
  const auto remote = client ? *client : socket.remote_endpoint(ec);
  if (!ec) {
    info.client_ip = net::unmapped(remote.address()).to_string();
    info.client_port = remote.port();
  }
  ec = {};
  const auto here = local ? *local : socket.local_endpoint(ec);
  if (!ec) {
    info.local_ip = net::unmapped(here.address()).to_string();
    info.local_port = here.port();
  }
  return info;
}

}  // namespace zmproxy::proxy

#include "lib/proxy/session_info.hpp"

namespace zmproxy::proxy {

namespace asio = net::asio;

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
  log.write(r);
}

SessionInfo describe_peer(const net::tcp::socket& socket, std::string protocol) {
  SessionInfo info;
  info.protocol = std::move(protocol);
  boost::system::error_code ec;
  auto unmap = [](asio::ip::address a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
      return asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()));
    }
    return a;
  };
  const auto remote = socket.remote_endpoint(ec);
  if (!ec) {
    info.client_ip = unmap(remote.address()).to_string();
    info.client_port = remote.port();
  }
  const auto local = socket.local_endpoint(ec);
  if (!ec) {
    info.local_ip = unmap(local.address()).to_string();
    info.local_port = local.port();
  }
  return info;
}

}  // namespace zmproxy::proxy

#include "lib/route/lookup_access.hpp"

#include "lib/core/address.hpp"
#include "lib/route/lookup_handler.hpp"

namespace zmproxy::route {

namespace {

namespace asio = net::asio;
using net::tcp;

using net::unmapped;

}  // namespace

Result<tcp::endpoint> parse_listen(const std::string& text) {
  const core::ParsedAddress a = core::parse_address(text, {7072, true, true});
  if (!a) {
    return fail(Errc::invalid_argument, "invalid listen address: " + a.error);
  }
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(a->host.empty() ? "0.0.0.0" : a->host, ec);
  if (ec) {
    return fail(Errc::invalid_argument, "invalid listen address '" + text +
                                            "'; use an IP address and port, e.g. 127.0.0.1:7072");
  }
  return tcp::endpoint(addr, a->port);
}

Result<void> check_listen_policy(const std::string& listen, bool has_secret) {
  auto endpoint = parse_listen(listen);
  if (!endpoint) {
    return tl::unexpected(endpoint.error());
  }
  if (!has_secret && !unmapped(endpoint->address()).is_loopback()) {
    return fail(Errc::permission_denied,
                "refusing to listen on " + listen +
                    " without a caller secret: anyone who reaches it could read every route; set "
                    "one (zmlocalconfig -e zmlookupd_secret=$(openssl rand -hex 32); the proxies "
                    "send it as route.secret) or listen on 127.0.0.1");
  }
  return {};
}

bool peer_allowed(const asio::ip::address& peer, const std::vector<std::string>& allowed) {
  if (allowed.empty()) {
    return true;
  }
  return ip_allowed(unmapped(peer).to_string(), allowed);
}

bool same_secret(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  }
  return diff == 0;
}

}  // namespace zmproxy::route

#pragma once
// What one web client connection carries from request to request: its
// configuration generation, its access-log record, the request being served
// (for its log line; info.detail: what login throttling did to it), the
// listener's counters and the buffers kept for their capacity. Internal to
// the web session (session.cpp and the template headers it includes).
//
// Thread affinity: the connection's worker.

#include "lib/config/proxy_config.hpp"
#include "lib/proxy/counters.hpp"
#include "lib/proxy/generation.hpp"
#include "lib/proxy/http/header_arena.hpp"
#include "lib/proxy/session_info.hpp"
#include "lib/proxy/http/client_cert.hpp"
#include "lib/throttle/login_throttle.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace zmproxy::proxy::http {

// The login the current request makes (login_user.hpp), while login
// throttling watches it (login_throttling.hpp).
struct WebLogin {
  std::string user;
  std::string
      address;  // the client's: the peer, or behind a trusted one its X-Forwarded-For client
  throttle::Decision before;  // what the throttle said before it was forwarded
  bool pending = false;       // its outcome is still to be counted
  bool proves = false;        // a 2xx/3xx answer proves its credentials (success_proves_login)
};

struct ClientConnection {
  std::shared_ptr<const proxy::Generation> shared;
  const config::ProxyConfig& cfg;
  proxy::SessionInfo info;
  bool tls;
  bool admin;
  std::uint64_t requests = 0;
  // The request being served, for its access log line.
  std::string request_line;
  std::string referer;
  std::string user_agent;
  int status = 0;
  // Per request, kept for their capacity: the outgoing header and the
  // forwarding fields added to the request.
  std::string head;
  std::string forwarded;
  std::string client_xff;  // a trusted peer's X-Forwarded-For chain
  HeaderArena arena;  // the current request's and response's header fields
  bool peer_trusted = false;  // the peer is in http.trusted_proxies
  proxy::ProtocolCounters& counters;  // the listener's (requests refused by login throttling)
  WebLogin login;  // the current request's, if it logs in (kept for its capacity)
  // The upstreams the current request tried or found down, ", " between
  // them (nginx's $upstream_addr): the `up` of an error redirect.
  std::string tried;
  bool certauth = false;   // the certauth listener (http.certauth_port)
  ClientCertificate cert;  // what the TLS handshake left (client_cert.hpp)
  bool h2 = false;         // one stream of an HTTP/2 connection (h2_session.hpp)
};

}  // namespace zmproxy::proxy::http

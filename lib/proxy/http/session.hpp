#pragma once
// One HTTP or HTTPS client connection of the web proxy: per request, the
// security checks (CR/LF escapes, header size, smuggling), strict server
// names, the mail mode's redirects, the failed-login throttle for requests
// with credentials (login_throttling.hpp), the route (user in the URL, auth
// token, JWT, else IP hash), then the request streamed to the mailbox web server
// over a pooled keep-alive connection (upstream_pool.hpp) and the response
// streamed back, with the proxy's forwarding fields (forwarding.hpp),
// Location rewriting and the configured response headers. WebSocket
// upgrades (the only ones passed on) become a byte tunnel with an idle
// timeout; a body slower than http.body_min_rate gets 408. Never throws.

#include <memory>
#include <optional>

#include "lib/net/asio.hpp"
#include "lib/proxy/connection_slot.hpp"

namespace zmproxy::proxy {
struct Generation;
}

namespace zmproxy::proxy::http {

// `admin`: the admin console listener (zimbraAdminProxyPort): routed by the
// ZM_ADMIN_AUTH_TOKEN cookie to the mailbox's zimbraAdminPort, else by IP hash
// over http.admin_upstreams. `client`: the client's address (accept's, or a
// PROXY protocol header's), if known; `local`: the connection's local
// address, if known.
net::asio::awaitable<void> run_session(std::shared_ptr<const proxy::Generation> shared,
                                       net::tcp::socket socket, bool tls, ConnectionSlot slot,
                                       bool admin = false,
                                       std::optional<net::tcp::endpoint> client = std::nullopt,
                                       std::optional<net::tcp::endpoint> local = std::nullopt);

// The certauth listener (zimbraMailSSLProxyClientCertPort): TLS asking for a
// client certificate; /certauth and /certauth/admin log in by it through a
// certauth lookup and are forwarded to the account's mailbox with the
// identity fields of client_cert.hpp; everything else is 403.
net::asio::awaitable<void> run_certauth_session(std::shared_ptr<const proxy::Generation> shared,
                                                net::tcp::socket socket, ConnectionSlot slot,
                                                std::optional<net::tcp::endpoint> client = std::nullopt,
                                                std::optional<net::tcp::endpoint> local = std::nullopt);

}  // namespace zmproxy::proxy::http

#pragma once
// TLS contexts from the configuration: the server side (certificate, key,
// protocols, ciphers) and the client side for mailbox servers. Includes Asio's
// SSL headers: use it only in TUs that do I/O.

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "lib/core/result.hpp"
#include "lib/config/proxy_config.hpp"

namespace zmproxy::tls {

using Context = boost::asio::ssl::context;

// Errors name the file or setting to fix ("tls.certificate: cannot read ...",
// "certificate and key do not match").
Result<std::shared_ptr<Context>> make_server_context(const config::ProxyConfig& cfg);
// The client side (mailbox servers): make_upstream_context in
// lib/tls/upstream_verify.hpp.

}  // namespace zmproxy::tls

#pragma once
// Verification of the mailbox servers' certificates (upstream TLS, mail and
// web alike): the client context trusts the CA bundle of
// upstream.ca_file (localconfig zmproxy_upstream_ca_file; empty = the
// system store) unless upstream.allow_untrusted_certs (localconfig
// ssl_allow_untrusted_certs) opts out, and each connection checks the name
// or address it was routed to. Includes OpenSSL: use it only in TUs that do
// I/O, except for the pure helpers at the end.

#include "lib/core/result.hpp"
#include "lib/config/proxy_config.hpp"
#include "lib/tls/tls_context.hpp"

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

namespace zmproxy::tls {

// TLS 1.2+, no compression; peer verification against the configured CA
// bundle unless the configuration opts out. Errors name the setting and the
// file ("upstream.ca_file: cannot load ...").
Result<std::shared_ptr<Context>> make_upstream_context(const config::ProxyConfig& cfg);

// Before the client handshake on `ssl` to `host` (the route's name or
// address): SNI for a name (never for an address, RFC 6066 section 3), and,
// when `verify`, the name (SSL_set1_host) or address
// (X509_VERIFY_PARAM_set1_ip_asc) the certificate must carry. False when
// OpenSSL refuses the host (the connection must not go on).
bool expect_upstream(SSL* ssl, const std::string& host, bool verify);

// After a failed client handshake: why the peer's certificate was refused
// ("self-signed certificate", "hostname mismatch", ...), or "" when the
// handshake failed for another reason (connection lost, protocol).
std::string certificate_failure(SSL* ssl);

// ---- pure ----

// True when `host` is an IPv4 or IPv6 address literal (no brackets).
bool is_ip_literal(std::string_view host) noexcept;

// The warning for an upstream whose certificate was refused, one line
// naming the upstream and the fix (the CA setting, or the lab opt-out). It
// begins "the mailbox server ", which the mail sessions answer with
// UNAVAILABLE.
std::string untrusted_upstream_message(std::string_view upstream,
                                       std::string_view why,
                                       std::string_view ca_file);

}  // namespace zmproxy::tls

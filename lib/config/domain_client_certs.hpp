#pragma once
// Per-domain client certificates (issue 17): http.domain_client_certs holds,
// for each virtual host name of a domain with its own
// zimbraReverseProxyClientCertMode or zimbraReverseProxyClientCertCA,
// "hostname mode [ca]". A connection whose SNI names the host gets that
// mode and CA (lib/tls/tls_context.cpp); every other connection gets
// http.client_cert_mode and http.client_cert_ca. Pure.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::config {

struct HttpSection;

struct DomainClientCert {
  std::string host;  // the virtual host name (SNI)
  std::string mode;  // off | on | optional
  std::string ca;    // "" = http.client_cert_ca
};

// One entry, or nothing when it is not "hostname mode [ca]" with a known mode.
std::optional<DomainClientCert> parse_domain_client_cert(std::string_view entry);
// Every well-formed entry of h.domain_client_certs.
std::vector<DomainClientCert> domain_client_certs(const HttpSection& h);

// Whether the HTTPS and certauth listeners need contexts that ask for client
// certificates: the web proxy is on and client_cert_mode, or some domain's
// mode, is not off.
bool client_cert_contexts_wanted(const HttpSection& h);

}  // namespace zmproxy::config

#pragma once
// Client certificates on the web listeners (http.client_cert_mode,
// zimbraReverseProxyClientCertMode; zmproxyd(8) CLIENT CERTIFICATES): what
// the handshake left (a certificate verified against http.client_cert_ca,
// one that failed, none), what a request on the HTTPS listener and on the
// certauth listener gets for it, and the identity fields the mailbox is sent
// after a certauth lookup, which no client may send itself. The handshake
// never fails over a certificate (lib/tls/tls_context.hpp): as nginx does,
// the verdict is an HTTP answer. Pure but for inspect_client_certificate.

#include <optional>
#include <string>
#include <string_view>

struct ssl_st;

namespace zmproxy::proxy::http {

// The longest subject sent to the lookup (its Auth-User bound).
inline constexpr std::size_t k_max_certificate_subject = 1024;

enum class CertMode { off, on, optional };

struct ClientCertificate {
  enum class State { none, verified, failed } state = State::none;
  std::string subject;  // verified: RFC 4514 (OpenSSL XN_FLAG_RFC2253, ASCII), at most
                        // k_max_certificate_subject
  std::string failure;  // failed: OpenSSL's reason ("certificate has expired", ...)
  // The mode of the context the handshake ended on: http.client_cert_mode,
  // or the domain's when SNI chose its virtual host (http.domain_client_certs).
  CertMode mode = CertMode::off;
};

// The peer certificate of a finished handshake, its verdict and the mode
// the connection's context asks with. A subject longer than
// k_max_certificate_subject is a failure.
ClientCertificate inspect_client_certificate(ssl_st* ssl);

CertMode parse_cert_mode(std::string_view mode) noexcept;  // "on", "optional", else off

// The HTTPS listener: nothing when the request goes on; else nginx's answer,
// 400 with "The SSL certificate error." for a certificate that failed (in
// either mode) or "No required SSL certificate was sent." (mode on, none).
std::optional<std::string_view> https_certificate_refusal(CertMode mode,
                                                          ClientCertificate::State state) noexcept;

// The certauth listener: Zimbra's web.sso server (only /certauth and
// /certauth/admin, exact paths; everything else 403). A verified
// certificate is looked up; a failed one is 403 (Zimbra's error_page 495 =403);
// none is 403 in mode on and the web client's login page in mode optional.
enum class CertauthStep { lookup, lookup_admin, forbidden, login_page, not_served };
CertauthStep certauth_step(CertMode mode,
                           ClientCertificate::State state,
                           std::string_view path) noexcept;

// Where "the login page" is: https://<Host without its port>[:<https_port>]/?ignoreLoginURL=1
// (Zimbra's zm_sso redirect); `fallback_host` when the Host is empty.
std::string login_page_url(std::string_view host_header,
                           std::string_view fallback_host,
                           int https_port);

// Whether a request field is one of the identity fields only the proxy
// sets (X-Client-Cert-*, X-Zimbra-Certauth-*, X-SSL-Client-*; any case).
// Every web request loses them before it is forwarded.
bool is_client_identity_field(std::string_view name) noexcept;

// The identity fields of a certauth login, appended to `out` ("Name: value\r\n"):
// X-Client-Cert-Verify: SUCCESS, X-Client-Cert-Subject, and the lookup's
// X-Zimbra-Certauth-Account and X-Zimbra-Certauth-Token (the token the
// mailbox verifies with zmlookupd_secret). The values are the proxy's (an
// ASCII subject, the lookup's account and token); control bytes become '?'.
void append_certauth_fields(std::string& out,
                            std::string_view subject,
                            std::string_view account,
                            std::string_view token);

}  // namespace zmproxy::proxy::http

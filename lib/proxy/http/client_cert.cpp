#include "lib/proxy/http/client_cert.hpp"

#include "lib/core/strings.hpp"
#include "lib/tls/client_cert_mode.hpp"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

namespace zmproxy::proxy::http {

namespace {

bool starts_with_icase(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && core::iequals(s.substr(0, prefix.size()), prefix);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ");
  for (char ch : value) {
    const auto u = static_cast<unsigned char>(ch);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : ch);
  }
  out.append("\r\n");
}

}  // namespace

ClientCertificate inspect_client_certificate(ssl_st* ssl) {
  ClientCertificate out;
  out.mode = parse_cert_mode(tls::client_cert_mode(ssl));
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) {
    return out;
  }
  const long verdict = SSL_get_verify_result(ssl);
  if (verdict != X509_V_OK) {
    out.state = ClientCertificate::State::failed;
    out.failure = X509_verify_cert_error_string(verdict);
    return out;
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
    out.state = ClientCertificate::State::failed;
    out.failure = "the subject cannot be printed";
    return out;
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  if (n <= 0 || static_cast<std::size_t>(n) > k_max_certificate_subject) {
    out.state = ClientCertificate::State::failed;
    out.failure = n <= 0 ? "the subject is empty" : "the subject is longer than 1024 bytes";
    return out;
  }
  out.state = ClientCertificate::State::verified;
  out.subject.assign(data, static_cast<std::size_t>(n));
  return out;
}

CertMode parse_cert_mode(std::string_view mode) noexcept {
  return mode == "on" ? CertMode::on : mode == "optional" ? CertMode::optional : CertMode::off;
}

std::optional<std::string_view> https_certificate_refusal(CertMode mode,
                                                          ClientCertificate::State state) noexcept {
  if (mode == CertMode::off) {
    return std::nullopt;
  }
  if (state == ClientCertificate::State::failed) {
    return "The SSL certificate error.";
  }
  if (state == ClientCertificate::State::none && mode == CertMode::on) {
    return "No required SSL certificate was sent.";
  }
  return std::nullopt;
}

CertauthStep certauth_step(CertMode mode,
                           ClientCertificate::State state,
                           std::string_view path) noexcept {
  const bool admin = path == "/certauth/admin";
  if (path != "/certauth" && !admin) {
    return CertauthStep::not_served;
  }
  switch (state) {
    case ClientCertificate::State::verified:
      return mode == CertMode::off ? CertauthStep::forbidden
             : admin               ? CertauthStep::lookup_admin
                                   : CertauthStep::lookup;
    case ClientCertificate::State::failed:
      return CertauthStep::forbidden;
    case ClientCertificate::State::none:
      return mode == CertMode::optional ? CertauthStep::login_page : CertauthStep::forbidden;
  }
  return CertauthStep::forbidden;
}

std::string login_page_url(std::string_view host_header,
                           std::string_view fallback_host,
                           int https_port) {
  std::string_view host = core::trim(host_header);
  if (!host.empty() && host.front() == '[') {
    host =
        host.substr(0, host.find(']') == std::string_view::npos ? host.size() : host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) {
    host = fallback_host;
  }
  std::string url = "https://";
  for (char ch : host) {
    const auto u = static_cast<unsigned char>(ch);
    url.push_back(u <= 0x20 || u >= 0x7f || ch == '/' || ch == '?' || ch == '#' || ch == '@' ? '_'
                                                                                             : ch);
  }
  if (https_port != 443 && https_port > 0) {
    url += ":" + std::to_string(https_port);
  }
  url += "/?ignoreLoginURL=1";
  return url;
}

bool is_client_identity_field(std::string_view name) noexcept {
  return starts_with_icase(name, "X-Client-Cert") || starts_with_icase(name, "X-Zimbra-Certauth") ||
         starts_with_icase(name, "X-SSL-Client");
}

void append_certauth_fields(std::string& out,
                            std::string_view subject,
                            std::string_view account,
                            std::string_view token) {
  append_field(out, "X-Client-Cert-Verify", "SUCCESS");
  append_field(out, "X-Client-Cert-Subject", subject);
  append_field(out, "X-Zimbra-Certauth-Account", account);
  append_field(out, "X-Zimbra-Certauth-Token", token);
}

}  // namespace zmproxy::proxy::http

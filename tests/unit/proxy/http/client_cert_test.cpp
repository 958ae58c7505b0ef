#include "lib/proxy/http/client_cert.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::proxy::http;
using State = ClientCertificate::State;

TEST_CASE("client certificates on the HTTPS listener: nginx's 400s", "[http][certauth]") {
  CHECK_FALSE(https_certificate_refusal(CertMode::off, State::none));
  CHECK_FALSE(https_certificate_refusal(CertMode::optional, State::none));
  CHECK_FALSE(https_certificate_refusal(CertMode::on, State::verified));
  CHECK(https_certificate_refusal(CertMode::on, State::none) ==
        "No required SSL certificate was sent.");
  CHECK(https_certificate_refusal(CertMode::optional, State::failed) ==
        "The SSL certificate error.");
  CHECK(https_certificate_refusal(CertMode::on, State::failed) == "The SSL certificate error.");
  CHECK(parse_cert_mode("on") == CertMode::on);
  CHECK(parse_cert_mode("optional") == CertMode::optional);
  CHECK(parse_cert_mode("off") == CertMode::off);
  CHECK(parse_cert_mode("ON") == CertMode::off);
}

TEST_CASE("the certauth listener's steps: exact paths, then the certificate and the mode",
          "[http][certauth]") {
  CHECK(certauth_step(CertMode::on, State::verified, "/certauth") == CertauthStep::lookup);
  CHECK(certauth_step(CertMode::on, State::verified, "/certauth/admin") ==
        CertauthStep::lookup_admin);
  for (const char* path : {"/", "/certauth/", "/certauthx", "/CERTAUTH", "/certauth/admin/x", ""}) {
    INFO(path);
    CHECK(certauth_step(CertMode::on, State::verified, path) == CertauthStep::not_served);
  }
  CHECK(certauth_step(CertMode::on, State::failed, "/certauth") == CertauthStep::forbidden);
  CHECK(certauth_step(CertMode::optional, State::failed, "/certauth") == CertauthStep::forbidden);
  CHECK(certauth_step(CertMode::on, State::none, "/certauth") == CertauthStep::forbidden);
  CHECK(certauth_step(CertMode::optional, State::none, "/certauth/admin") ==
        CertauthStep::login_page);
  CHECK(certauth_step(CertMode::off, State::verified, "/certauth") == CertauthStep::forbidden);
}

TEST_CASE("the login page keeps the Host's name and takes the HTTPS port", "[http][certauth]") {
  CHECK(login_page_url("mail.example.com:3443", "proxy", 443) ==
        "https://mail.example.com/?ignoreLoginURL=1");
  CHECK(login_page_url("mail.example.com", "proxy", 8443) ==
        "https://mail.example.com:8443/?ignoreLoginURL=1");
  CHECK(login_page_url("[::1]:3443", "proxy", 443) == "https://[::1]/?ignoreLoginURL=1");
  CHECK(login_page_url("", "proxy.example.com", 443) ==
        "https://proxy.example.com/?ignoreLoginURL=1");
  // Nothing in the Host can move the redirect elsewhere.
  CHECK(login_page_url("evil.com/@x", "proxy", 443) == "https://evil.com__x/?ignoreLoginURL=1");
}

TEST_CASE("identity fields: only the proxy's reach a mailbox", "[http][certauth]") {
  for (const char* name : {"X-Client-Cert-Subject", "x-client-cert", "X-ZIMBRA-CERTAUTH-TOKEN",
                           "X-SSL-Client-S-DN", "x-ssl-client-verify"}) {
    INFO(name);
    CHECK(is_client_identity_field(name));
  }
  for (const char* name : {"X-Client", "X-Zimbra-Auth", "Cookie", "X-Forwarded-For", "X-SSL"}) {
    INFO(name);
    CHECK_FALSE(is_client_identity_field(name));
  }
  std::string out;
  append_certauth_fields(out, "CN=a\r\nX: y", "user1@example.com", "zmlt1:1:ab");
  CHECK(out ==
        "X-Client-Cert-Verify: SUCCESS\r\nX-Client-Cert-Subject: CN=a??X: y\r\n"
        "X-Zimbra-Certauth-Account: user1@example.com\r\nX-Zimbra-Certauth-Token: zmlt1:1:ab\r\n");
}

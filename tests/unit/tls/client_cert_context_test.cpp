// Per-domain client certificates on the client-certificate contexts: a
// virtual host named in http.domain_client_certs asks with its own mode and
// verifies against its own CA, the default context with the global ones,
// the mode is read back from the connection, and a session is never resumed
// on a host name with other settings. Real in-memory handshakes.

#include "lib/tls/client_cert_mode.hpp"
#include "lib/tls/tls_context.hpp"

#include "tests/support/temp_dir.hpp"
#include "tests/unit/tls/test_certs.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy;

namespace {

struct Setup {
  test::TempDir dir;
  config::ProxyConfig cfg = config::default_config();
  test::KeyAndCert ca_a = test::make_cert("CA of a", nullptr, true);
  test::KeyAndCert ca_b = test::make_cert("CA of b", nullptr, true);

  Setup() {
    cfg.home = dir.path();
    test::write_pem(test::make_cert("proxy.example.com"), dir.path() / "main.crt",
                    dir.path() / "main.key");
    test::write_pem(test::make_cert("b.example.com"), dir.path() / "b.crt", dir.path() / "b.key");
    test::write_pem(ca_a, dir.path() / "ca-a.crt", dir.path() / "ca-a.key");
    test::write_pem(ca_b, dir.path() / "ca-b.crt", dir.path() / "ca-b.key");
    cfg.tls.certificate = "main.crt";
    cfg.tls.key = "main.key";
    cfg.tls.domain_certificates = {"b.example.com b.crt b.key"};
    cfg.http.enabled = true;
    cfg.http.client_cert_mode = "off";
    // a: no certificate of its own, mode on, its CA; b: its own certificate, optional, CA b.
    cfg.http.domain_client_certs = {"a.example.com on ca-a.crt", "b.example.com optional ca-b.crt"};
  }
};

struct Client {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{SSL_CTX_new(TLS_client_method()),
                                                        &SSL_CTX_free};

  explicit Client(const test::KeyAndCert* cert = nullptr, int max_version = 0) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    if (cert != nullptr) {
      SSL_CTX_use_certificate(ctx.get(), cert->cert.get());
      SSL_CTX_use_PrivateKey(ctx.get(), cert->key.get());
    }
    if (max_version != 0) {
      SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    }
  }
};

struct Outcome {
  bool done = false;
  std::string mode;         // tls::client_cert_mode on the server side
  bool peer_cert = false;   // the server has a client certificate
  long verify = X509_V_OK;  // its verdict
  bool reused = false;
  std::shared_ptr<SSL_SESSION> session;  // the client's, for a later resumption
};

Outcome connect(tls::Context& server,
                Client& client,
                const char* sni,
                SSL_SESSION* resume = nullptr) {
  test::Handshake h(client.ctx.get(), server.native_handle());
  if (sni != nullptr) {
    SSL_set_tlsext_host_name(h.client.get(), sni);
  }
  if (resume != nullptr) {
    SSL_set_session(h.client.get(), resume);
  }
  Outcome r;
  r.done = h.run();
  if (!r.done) {
    return r;
  }
  // TLS 1.3 tickets come after the handshake: let the client read them.
  char byte = 0;
  SSL_write(h.server.get(), "x", 1);
  SSL_read(h.client.get(), &byte, 1);
  r.mode = std::string(tls::client_cert_mode(h.server.get()));
  r.peer_cert = SSL_get0_peer_certificate(h.server.get()) != nullptr;
  r.verify = SSL_get_verify_result(h.server.get());
  r.reused = SSL_session_reused(h.server.get()) == 1;
  r.session.reset(SSL_get1_session(h.client.get()), SSL_SESSION_free);
  // Freed without close_notify, OpenSSL takes a session for a broken one.
  SSL_shutdown(h.client.get());
  SSL_shutdown(h.server.get());
  return r;
}

}  // namespace

TEST_CASE("per-domain client certificates: each host name its mode and CA", "[tls][certauth]") {
  Setup s;
  auto server = tls::make_client_cert_context(s.cfg);
  INFO((server ? std::string() : server.error().message));
  REQUIRE(server);
  const test::KeyAndCert by_a = test::make_cert("alice", &s.ca_a);
  const test::KeyAndCert by_b = test::make_cert("bob", &s.ca_b);

  SECTION("the default host (no SNI, or another name) asks for nothing") {
    for (const char* sni : {static_cast<const char*>(nullptr), "other.example.com"}) {
      Client with_cert(&by_a);
      const Outcome r = connect(**server, with_cert, sni);
      REQUIRE(r.done);
      CHECK(r.mode == "off");
      CHECK_FALSE(r.peer_cert);
    }
  }
  SECTION("a: mode on, its CA verifies, another CA's certificate fails, none is none") {
    Client none;
    Outcome r = connect(**server, none, "a.example.com");
    REQUIRE(r.done);
    CHECK(r.mode == "on");
    CHECK_FALSE(r.peer_cert);
    Client good(&by_a);
    r = connect(**server, good, "A.Example.COM");
    REQUIRE(r.done);
    CHECK(r.mode == "on");
    REQUIRE(r.peer_cert);
    CHECK(r.verify == X509_V_OK);
    Client wrong(&by_b);
    r = connect(**server, wrong, "a.example.com");
    REQUIRE(r.done);  // the verdict is an HTTP answer, not a failed handshake
    REQUIRE(r.peer_cert);
    CHECK(r.verify != X509_V_OK);
  }
  SECTION("b: its own certificate, mode optional, CA b") {
    Client good(&by_b);
    Outcome r = connect(**server, good, "b.example.com");
    REQUIRE(r.done);
    CHECK(r.mode == "optional");
    REQUIRE(r.peer_cert);
    CHECK(r.verify == X509_V_OK);
    Client wrong(&by_a);
    r = connect(**server, wrong, "b.example.com");
    REQUIRE(r.peer_cert);
    CHECK(r.verify != X509_V_OK);
  }
}

TEST_CASE(
    "per-domain client certificates: a session is resumed only under the settings it was made with",
    "[tls][certauth]") {
  Setup s;
  s.cfg.http.domain_client_certs = {"a.example.com on ca-a.crt", "b.example.com optional ca-b.crt",
                                    "c.example.com on ca-b.crt"};
  auto server = tls::make_client_cert_context(s.cfg);
  REQUIRE(server);
  const test::KeyAndCert by_a = test::make_cert("alice", &s.ca_a);
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    INFO("version " << std::hex << version);
    Client client(&by_a, version);
    const Outcome first = connect(**server, client, "a.example.com");
    REQUIRE(first.done);
    REQUIRE(first.verify == X509_V_OK);
    REQUIRE(first.session);
    // The same host: resumed (so the test would see a resumption elsewhere).
    Outcome again = connect(**server, client, "a.example.com", first.session.get());
    REQUIRE(again.done);
    CHECK(again.reused);
    // c asks with CA b: a's verified session must not be taken there.
    Client bare(nullptr, version);
    Outcome elsewhere = connect(**server, bare, "c.example.com", first.session.get());
    REQUIRE(elsewhere.done);
    CHECK_FALSE(elsewhere.reused);
    CHECK_FALSE(elsewhere.peer_cert);
    CHECK(elsewhere.mode == "on");
    // Nor on the default host.
    elsewhere = connect(**server, bare, nullptr, first.session.get());
    REQUIRE(elsewhere.done);
    CHECK_FALSE(elsewhere.reused);
    CHECK(elsewhere.mode == "off");
  }
}

TEST_CASE("per-domain client certificates: a missing CA file names the host", "[tls][certauth]") {
  Setup s;
  s.cfg.http.domain_client_certs = {"a.example.com on missing.crt"};
  auto server = tls::make_client_cert_context(s.cfg);
  REQUIRE_FALSE(server);
  CHECK_THAT(server.error().message,
             Catch::StartsWith("http.domain_client_certs (a.example.com): cannot load"));
  // The plain server context (mail, admin) does not look at it.
  CHECK(tls::make_server_context(s.cfg));
}

TEST_CASE("client-certificate mode: a context never marked reads off", "[tls][certauth]") {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        &SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  CHECK(tls::client_cert_mode(ssl.get()) == "off");
  CHECK(tls::client_cert_mode(nullptr) == "off");
  tls::mark_client_cert_mode(ctx.get(), "optional");
  CHECK(tls::client_cert_mode(ssl.get()) == "optional");
  tls::mark_client_cert_mode(ctx.get(), "bogus");
  CHECK(tls::client_cert_mode(ssl.get()) == "off");
}

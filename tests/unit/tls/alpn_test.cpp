// ALPN on the server contexts: real in-memory handshakes against the
// contexts make_server_context and make_client_cert_context build (default
// and SNI virtual host), and the selection fed hostile lists directly.

#include "lib/tls/alpn.hpp"
#include "lib/tls/tls_context.hpp"

#include "tests/support/temp_dir.hpp"
#include "tests/unit/tls/test_certs.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <vector>

using namespace zmproxy;

namespace {

// A configuration with a default certificate and one virtual host
// (vhost.example.com) with its own, written under `dir`.
config::ProxyConfig tls_config(const test::TempDir& dir) {
  config::ProxyConfig cfg = config::default_config();
  cfg.home = dir.path();
  test::write_pem(test::make_cert("proxy.example.com"), dir.path() / "main.crt", dir.path() / "main.key");
  test::write_pem(test::make_cert("vhost.example.com"), dir.path() / "vhost.crt", dir.path() / "vhost.key");
  cfg.tls.certificate = "main.crt";
  cfg.tls.key = "main.key";
  cfg.tls.domain_certificates = {"vhost.example.com vhost.crt vhost.key"};
  return cfg;
}

// The wire form of an ALPN list.
std::vector<unsigned char> wire(std::initializer_list<std::string_view> names) {
  std::vector<unsigned char> out;
  for (std::string_view n : names) {
    out.push_back(static_cast<unsigned char>(n.size()));
    out.insert(out.end(), n.begin(), n.end());
  }
  return out;
}

struct Outcome {
  bool done = false;
  std::string client_alpn;  // what the client saw chosen
  bool server_h2 = false;   // negotiated_h2 on the server side
  std::string server_name;  // the certificate the client got (CN)
};

Outcome handshake(tls::Context& server_ctx, std::initializer_list<std::string_view> offered, bool allow,
                  const char* sni = nullptr) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> client_ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (offered.size() != 0) {
    const auto list = wire(offered);
    REQUIRE(SSL_CTX_set_alpn_protos(client_ctx.get(), list.data(), static_cast<unsigned>(list.size())) == 0);
  }
  test::Handshake h(client_ctx.get(), server_ctx.native_handle());
  if (sni != nullptr) {
    SSL_set_tlsext_host_name(h.client.get(), sni);
  }
  if (allow) {
    tls::allow_h2(h.server.get());
  }
  Outcome out;
  out.done = h.run();
  const unsigned char* data = nullptr;
  unsigned int size = 0;
  SSL_get0_alpn_selected(h.client.get(), &data, &size);
  out.client_alpn.assign(reinterpret_cast<const char*>(data), data ? size : 0);
  out.server_h2 = tls::negotiated_h2(h.server.get());
  if (X509* peer = SSL_get0_peer_certificate(h.client.get())) {
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    out.server_name = cn;
  }
  return out;
}

}  // namespace

TEST_CASE("ALPN: h2 only where allowed, http/1.1 else, nothing for a mail client", "[tls][alpn]") {
  test::TempDir dir;
  const config::ProxyConfig cfg = tls_config(dir);
  auto server = tls::make_server_context(cfg);
  REQUIRE(server);
  tls::Context& ctx = **server;

  SECTION("allowed and offered: h2, whatever the client's order") {
    for (auto offered : {std::initializer_list<std::string_view>{"h2", "http/1.1"},
                         std::initializer_list<std::string_view>{"http/1.1", "h2"}}) {
      const Outcome o = handshake(ctx, offered, true);
      REQUIRE(o.done);
      CHECK(o.client_alpn == "h2");
      CHECK(o.server_h2);
    }
  }
  SECTION("not allowed: http/1.1") {
    const Outcome o = handshake(ctx, {"h2", "http/1.1"}, false);
    REQUIRE(o.done);
    CHECK(o.client_alpn == "http/1.1");
    CHECK_FALSE(o.server_h2);
  }
  SECTION("allowed but only h2 offered and not allowed: no ALPN, the handshake goes on") {
    const Outcome o = handshake(ctx, {"h2"}, false);
    REQUIRE(o.done);
    CHECK(o.client_alpn.empty());
    CHECK_FALSE(o.server_h2);
  }
  SECTION("a connection that said nothing (unmarked) never refuses; a web one refuses imap") {
    Outcome o = handshake(ctx, {"imap"}, false);
    REQUIRE(o.done);
    CHECK(o.client_alpn.empty());
    o = handshake(ctx, {}, true);
    REQUIRE(o.done);
    CHECK(o.client_alpn.empty());
    CHECK_FALSE(o.server_h2);
    o = handshake(ctx, {"imap"}, true);  // a mail client at HTTPS (ALPACA)
    CHECK_FALSE(o.done);
  }
  SECTION("a virtual host chosen by SNI answers the same") {
    Outcome o = handshake(ctx, {"h2", "http/1.1"}, true, "vhost.example.com");
    REQUIRE(o.done);
    CHECK(o.server_name == "vhost.example.com");
    CHECK(o.client_alpn == "h2");
    CHECK(o.server_h2);
    o = handshake(ctx, {"h2", "http/1.1"}, false, "VHOST.example.com");
    REQUIRE(o.done);
    CHECK(o.server_name == "vhost.example.com");
    CHECK(o.client_alpn == "http/1.1");
    o = handshake(ctx, {"imap"}, true, "vhost.example.com");
    CHECK_FALSE(o.done);
  }
}

TEST_CASE("ALPN: the client-certificate contexts answer too", "[tls][alpn][certauth]") {
  test::TempDir dir;
  config::ProxyConfig cfg = tls_config(dir);
  const test::KeyAndCert ca = test::make_cert("Test CA", nullptr, true);
  test::write_pem(ca, dir.path() / "ca.crt", dir.path() / "ca.key");
  cfg.http.enabled = true;
  cfg.http.client_cert_mode = "optional";
  cfg.http.client_cert_ca = "ca.crt";
  auto server = tls::make_client_cert_context(cfg);
  REQUIRE(server);
  for (const char* sni : {static_cast<const char*>(nullptr), "vhost.example.com"}) {
    INFO((sni ? sni : "no SNI"));
    Outcome o = handshake(**server, {"h2", "http/1.1"}, true, sni);
    REQUIRE(o.done);
    CHECK(o.client_alpn == "h2");
    o = handshake(**server, {"http/1.1"}, true, sni);
    REQUIRE(o.done);
    CHECK(o.client_alpn == "http/1.1");
  }
}

TEST_CASE("ALPN: the selection over hostile lists", "[tls][alpn]") {
  const auto choose = [](const std::vector<unsigned char>& list, bool allowed) {
    return std::string(tls::choose_alpn(list.data(), list.size(), allowed));
  };
  CHECK(choose(wire({"imap"}), true).empty());
  CHECK(choose(wire({"spdy/3", "h2"}), true) == "h2");
  CHECK(choose(wire({"h2c", "http/1.1"}), true) == "http/1.1");  // h2c is not h2
  CHECK(choose(wire({"h2", "http/1.1"}), false) == "http/1.1");
  CHECK(choose(wire({"http/1.0"}), true).empty());
  CHECK(choose(wire({"HTTP/1.1"}), true).empty());  // ALPN names are exact bytes
  CHECK(tls::choose_alpn(nullptr, 0, true).empty());
  // Malformed: an empty entry, an entry past the end, a trailing length byte.
  CHECK(choose({}, true).empty());
  CHECK(choose({0}, true).empty());
  CHECK(choose({0, 2, 'h', '2'}, true).empty());
  CHECK(choose({2, 'h', '2', 0}, true).empty());
  CHECK(choose({3, 'h', '2'}, true).empty());
  CHECK(choose({2, 'h', '2', 9, 'h', 't'}, true).empty());
  CHECK(choose({2, 'h', '2', 8}, true).empty());
  CHECK(choose({255, 'h', '2'}, true).empty());
  std::vector<unsigned char> longest(256, 'x');
  longest[0] = 255;
  CHECK(choose(longest, true).empty());
  longest.push_back(2);
  longest.push_back('h');
  longest.push_back('2');
  CHECK(choose(longest, true) == "h2");

  // Random bytes: the answer is one of the three and lies inside the list.
  std::mt19937 rng(17);
  for (int i = 0; i < 20000; ++i) {
    std::vector<unsigned char> list(rng() % 40);
    for (auto& b : list) {
      b = static_cast<unsigned char>(rng() % 4 == 0 ? rng() % 10 : rng() % 256);
    }
    if (list.size() > 3 && rng() % 2 == 0) {
      list[list.size() - 3] = 2;
      list[list.size() - 2] = 'h';
      list[list.size() - 1] = '2';
    }
    const std::string_view got = tls::choose_alpn(list.data(), list.size(), true);
    REQUIRE((got.empty() || got == "h2" || got == "http/1.1"));
    if (!got.empty()) {
      REQUIRE(got.data() >= reinterpret_cast<const char*>(list.data()));
      REQUIRE(got.data() + got.size() <= reinterpret_cast<const char*>(list.data() + list.size()));
    }
  }
}

TEST_CASE("ALPN: the callback fed directly answers NOACK to what it cannot use", "[tls][alpn]") {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  const auto call = [&](const std::vector<unsigned char>& in, std::string& chosen) {
    const unsigned char* out = nullptr;
    unsigned char out_size = 0;
    const int r = tls::select_alpn(ssl.get(), &out, &out_size, in.data(), static_cast<unsigned>(in.size()),
                                   nullptr);
    chosen.assign(reinterpret_cast<const char*>(out), out ? out_size : 0);
    return r;
  };
  std::string chosen;
  CHECK(call({}, chosen) == SSL_TLSEXT_ERR_NOACK);
  CHECK(call({7, 'h'}, chosen) == SSL_TLSEXT_ERR_NOACK);
  CHECK(call({0, 0, 0}, chosen) == SSL_TLSEXT_ERR_NOACK);
  CHECK(call(wire({"imap"}), chosen) == SSL_TLSEXT_ERR_NOACK);
  CHECK(call(wire({"h2", "http/1.1"}), chosen) == SSL_TLSEXT_ERR_OK);
  CHECK(chosen == "http/1.1");  // not allowed on this SSL
  tls::allow_h2(ssl.get());
  CHECK(call(wire({"h2", "http/1.1"}), chosen) == SSL_TLSEXT_ERR_OK);
  CHECK(chosen == "h2");
  CHECK(call({2, 'h', '2', 5}, chosen) == SSL_TLSEXT_ERR_ALERT_FATAL);  // marked web: refused
  CHECK(call(wire({"imap"}), chosen) == SSL_TLSEXT_ERR_ALERT_FATAL);
  CHECK(call(wire({"http/1.0"}), chosen) == SSL_TLSEXT_ERR_OK);
  CHECK(chosen == "http/1.0");
  CHECK_FALSE(tls::negotiated_h2(ssl.get()));  // no handshake
}

TEST_CASE("ALPN: the mail listeners take their own protocol or none, and refuse HTTP (ALPACA)",
          "[tls][alpn]") {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        &SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  const auto call = [&](const std::vector<unsigned char>& in, std::string& chosen) {
    const unsigned char* out = nullptr;
    unsigned char out_size = 0;
    const int r = tls::select_alpn(ssl.get(), &out, &out_size, in.data(),
                                   static_cast<unsigned>(in.size()), nullptr);
    chosen.assign(reinterpret_cast<const char*>(out), out ? out_size : 0);
    return r;
  };
  std::string chosen;
  tls::expect_alpn(ssl.get(), tls::AlpnRole::imap);
  CHECK(call(wire({"h2", "imap"}), chosen) == SSL_TLSEXT_ERR_OK);
  CHECK(chosen == "imap");
  CHECK(call(wire({"http/1.1"}), chosen) == SSL_TLSEXT_ERR_ALERT_FATAL);
  CHECK(call(wire({"pop3"}), chosen) == SSL_TLSEXT_ERR_ALERT_FATAL);
  CHECK(call({4, 'i', 'm', 'a'}, chosen) == SSL_TLSEXT_ERR_ALERT_FATAL);  // runs past its end
  tls::expect_alpn(ssl.get(), tls::AlpnRole::pop3);
  CHECK(call(wire({"pop3"}), chosen) == SSL_TLSEXT_ERR_OK);
  CHECK(chosen == "pop3");
  CHECK(call(wire({"imap"}), chosen) == SSL_TLSEXT_ERR_ALERT_FATAL);

  test::TempDir dir;
  const config::ProxyConfig cfg = tls_config(dir);
  auto server = tls::make_server_context(cfg);
  REQUIRE(server);
  const auto mail_handshake = [&](std::initializer_list<std::string_view> offered) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> client_ctx(SSL_CTX_new(TLS_client_method()),
                                                                 &SSL_CTX_free);
    if (offered.size() != 0) {
      const auto list = wire(offered);
      REQUIRE(SSL_CTX_set_alpn_protos(client_ctx.get(), list.data(),
                                      static_cast<unsigned>(list.size())) == 0);
    }
    test::Handshake h(client_ctx.get(), (*server)->native_handle());
    tls::expect_alpn(h.server.get(), tls::AlpnRole::imap);
    return h.run();
  };
  CHECK(mail_handshake({}));
  CHECK(mail_handshake({"imap"}));
  CHECK_FALSE(mail_handshake({"http/1.1"}));  // a browser sent to IMAPS
}

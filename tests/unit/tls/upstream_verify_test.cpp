#include "lib/tls/upstream_verify.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace zmproxy;

TEST_CASE("only address literals are taken for addresses (no SNI, IP check)", "[tls]") {
  CHECK(tls::is_ip_literal("127.0.0.2"));
  CHECK(tls::is_ip_literal("10.0.0.31"));
  CHECK(tls::is_ip_literal("::1"));
  CHECK(tls::is_ip_literal("fe80::1"));
  CHECK_FALSE(tls::is_ip_literal("mbox1.example.com"));
  CHECK_FALSE(tls::is_ip_literal("127.0.0.2.example.com"));
  CHECK_FALSE(tls::is_ip_literal("[::1]"));
  CHECK_FALSE(tls::is_ip_literal(""));
  CHECK_FALSE(tls::is_ip_literal(std::string(100, '1')));
}

TEST_CASE("an untrusted upstream's line names it, the CA setting and the opt-out", "[tls]") {
  const std::string none =
      tls::untrusted_upstream_message("127.0.0.2:7993", "self-signed certificate", "");
  CHECK_THAT(none, Catch::StartsWith(
                       "the mailbox server 127.0.0.2:7993 has a TLS certificate the proxy does "
                       "not trust (self-signed certificate)"));
  CHECK_THAT(none, Catch::Contains("zmlocalconfig -e zmproxy_upstream_ca_file="));
  CHECK_THAT(none, Catch::Contains("ssl_allow_untrusted_certs=true"));
  CHECK(none.find('\n') == std::string::npos);
  const std::string with =
      tls::untrusted_upstream_message("mbox1:7993", "hostname mismatch", "/etc/ca.pem");
  CHECK_THAT(
      with, Catch::Contains("add the CA that issued it to /etc/ca.pem (zmproxy_upstream_ca_file)"));
}

TEST_CASE("the upstream context loads the configured CA bundle or says which file is wrong",
          "[tls]") {
  test::TempDir dir;
  config::ProxyConfig cfg = config::default_config();
  cfg.home = dir.path();
  SECTION("the system store by default, verification on") {
    auto ctx = tls::make_upstream_context(cfg);
    REQUIRE(ctx);
    CHECK(SSL_CTX_get_verify_mode((*ctx)->native_handle()) == SSL_VERIFY_PEER);
  }
  SECTION("a missing file is refused, naming it and the localconfig key") {
    cfg.upstream.ca_file = "conf/missing-ca.pem";
    auto ctx = tls::make_upstream_context(cfg);
    REQUIRE_FALSE(ctx);
    CHECK_THAT(ctx.error().message,
               Catch::StartsWith("upstream.ca_file: cannot load the CA bundle " +
                                 (dir.path() / "conf/missing-ca.pem").string()));
    CHECK_THAT(ctx.error().message, Catch::Contains("zmproxy_upstream_ca_file"));
  }
  SECTION("a file that holds no certificate is refused") {
    std::ofstream(dir.path() / "junk.pem") << "not a certificate\n";
    cfg.upstream.ca_file = (dir.path() / "junk.pem").string();
    CHECK_FALSE(tls::make_upstream_context(cfg));
  }
  SECTION("the opt-out turns verification off and needs no bundle") {
    cfg.upstream.ca_file = "conf/missing-ca.pem";
    cfg.upstream.allow_untrusted_certs = true;
    auto ctx = tls::make_upstream_context(cfg);
    REQUIRE(ctx);
    CHECK(SSL_CTX_get_verify_mode((*ctx)->native_handle()) == SSL_VERIFY_NONE);
  }
}

// kTLS: tls.ktls reaches every context zmproxyd makes (SSL_OP_ENABLE_KTLS,
// off by default), the kernel probe explains itself when kTLS cannot be
// had, and the start-up line says which.

#include "lib/tls/ktls.hpp"

#include "lib/tls/tls_context.hpp"
#include "lib/tls/upstream_verify.hpp"

#include "tests/support/temp_dir.hpp"
#include "tests/unit/tls/test_certs.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace zmproxy;

namespace {

bool has_ktls(const tls::Context& ctx) {
  return (SSL_CTX_get_options(const_cast<tls::Context&>(ctx).native_handle()) &
          SSL_OP_ENABLE_KTLS) != 0;
}

struct Setup {
  test::TempDir dir;
  config::ProxyConfig cfg = config::default_config();
  Setup() {
    cfg.home = dir.path();
    test::write_pem(test::make_cert("proxy.example.com"), dir.path() / "main.crt",
                    dir.path() / "main.key");
    test::write_pem(test::make_cert("b.example.com"), dir.path() / "b.crt", dir.path() / "b.key");
    cfg.tls.certificate = "main.crt";
    cfg.tls.key = "main.key";
    cfg.tls.domain_certificates = {"b.example.com b.crt b.key"};
    cfg.http.enabled = true;
    cfg.http.client_cert_mode = "off";
  }
};

}  // namespace

TEST_CASE("tls.ktls is off by default and reaches server, client-certificate and mailbox contexts",
          "[tls]") {
  Setup s;
  CHECK_FALSE(s.cfg.tls.ktls);
  for (const bool on : {false, true}) {
    s.cfg.tls.ktls = on;
    auto server = tls::make_server_context(s.cfg);
    REQUIRE(server);
    CHECK(has_ktls(**server) == on);
    auto certs = tls::make_client_cert_context(s.cfg);
    REQUIRE(certs);
    CHECK(has_ktls(**certs) == on);
    auto upstream = tls::make_upstream_context(s.cfg);
    REQUIRE(upstream);
    CHECK(has_ktls(**upstream) == on);
  }
}

TEST_CASE("where the start-up probe found no kTLS, the contexts do not ask for it", "[tls]") {
  Setup s;
  s.cfg.tls.ktls = true;
  tls::remember_kernel_tls(false);
  auto server = tls::make_server_context(s.cfg);
  auto upstream = tls::make_upstream_context(s.cfg);
  tls::remember_kernel_tls(true);
  auto later = tls::make_server_context(s.cfg);
  REQUIRE(server);
  REQUIRE(upstream);
  REQUIRE(later);
  CHECK_FALSE(has_ktls(**server));
  CHECK_FALSE(has_ktls(**upstream));
  CHECK(has_ktls(**later));
}

TEST_CASE("the kernel probe says why when kTLS cannot be had", "[tls]") {
  for (const bool try_socket : {false, true}) {
    const tls::KernelTls k = tls::probe_kernel_tls(try_socket);
    if (k.available) {
      CHECK(k.why.empty());
    } else {
      CHECK_FALSE(k.why.empty());
    }
  }
  // Listed in /proc means the socket probe finds it too (not the other way:
  // as root the socket probe may load the module).
  if (tls::probe_kernel_tls(false).available) {
    CHECK(tls::probe_kernel_tls(true).available);
  }
}

TEST_CASE("the start-up line: kTLS on, off, or asked for and why it cannot be", "[tls]") {
  const tls::KernelTls yes{true, ""};
  const tls::KernelTls no{false,
                          "the kernel has no TLS ULP (CONFIG_TLS not set, or the tls module not "
                          "loaded: modprobe tls)"};
  CHECK_THAT(tls::ktls_start_line(true, yes), Catch::StartsWith("kTLS on:"));
  CHECK(tls::ktls_start_line(true, no) ==
        "kTLS asked for (tls.ktls = true) but not available, TLS stays in OpenSSL: the kernel has "
        "no TLS "
        "ULP (CONFIG_TLS not set, or the tls module not loaded: modprobe tls)");
  CHECK(tls::ktls_start_line(false, yes) == "kTLS off (tls.ktls = false); the kernel could do it");
  CHECK_THAT(tls::ktls_start_line(false, no),
             Catch::StartsWith("kTLS off (tls.ktls = false); the kernel could "
                               "not either: the kernel has no TLS ULP"));
}

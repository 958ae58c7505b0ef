// The shipped templates/zmproxy.conf.template renders the web settings of
// issue 17 from the attributes: http.http2 (zimbraReverseProxyHttp2Enabled),
// and the rendering parses.

#include "lib/confgen/variables.hpp"
#include "lib/config/proxy_config.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/provisioning/file_store.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy;
using provisioning::AttrChange;

namespace {

// templates/zmproxy.conf.template of the tree this test was built from.
std::filesystem::path shipped_template() {
  std::error_code ec;
  auto dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (; !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / "templates" / "zmproxy.conf.template")) {
      return dir / "templates" / "zmproxy.conf.template";
    }
  }
  return {};
}

AttrChange set(std::string attr, std::string value) {
  return {AttrChange::Op::set, std::move(attr), std::move(value)};
}

template <class R>
void require_ok(const R& r) {
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r);
}

// An embedded store and a localconfig in one home; renders for the server
// proxy.example.com.
struct Home {
  test::TempDir dir;
  std::unique_ptr<provisioning::FileStore> store;
  std::unique_ptr<provisioning::Provisioning> prov;
  localconfig::LocalConfig lc;

  Home() : lc(*localconfig::LocalConfig::load(dir.path() / "localconfig.toml", dir.path())) {
    auto opened = provisioning::FileStore::open(dir.path() / "prov.ldif");
    REQUIRE(opened);
    store = std::move(*opened);
    prov = std::make_unique<provisioning::Provisioning>(*store, std::vector<std::string>{});
    require_ok(prov->ensure_base());
  }

  confgen::Collected collected() {
    auto c = confgen::collect_variables(*prov, lc, "proxy.example.com");
    require_ok(c);
    return std::move(*c);
  }

  std::string render() {
    const auto file = shipped_template();
    REQUIRE_FALSE(file.empty());
    auto text = core::read_file(file);
    REQUIRE(text);
    auto rendered = confgen::render(*text, collected().vars, "zmproxy.conf.template");
    require_ok(rendered);
    return *rendered;
  }

  config::ProxyConfig parse(const std::string& text) const {
    auto cfg = config::parse_config(text, "zmproxy.conf", dir.path());
    require_ok(cfg);
    return **cfg;
  }
};

}  // namespace

TEST_CASE("template: HTTP/2 on by default, off by zmprov mcf, on again by the server",
          "[confgen][http2]") {
  Home h;
  std::string text = h.render();
  CHECK_THAT(text, Catch::Contains("\nhttp2 = true\n"));
  CHECK(h.parse(text).http.http2);

  // zmprov mcf zimbraReverseProxyHttp2Enabled FALSE
  require_ok(h.prov->modify(schema::Kind::global, "", {set("zimbraReverseProxyHttp2Enabled", "FALSE")},
                            false));
  text = h.render();
  CHECK_THAT(text, Catch::Contains("\nhttp2 = false\n"));
  CHECK_FALSE(h.parse(text).http.http2);

  // zmprov cs proxy.example.com zimbraReverseProxyHttp2Enabled TRUE: the server's value wins.
  require_ok(h.prov->create_server("proxy.example.com", {set("zimbraReverseProxyHttp2Enabled", "TRUE")}));
  text = h.render();
  CHECK_THAT(text, Catch::Contains("\nhttp2 = true\n"));
  CHECK(h.parse(text).http.http2);
}

namespace {

const std::string k_ca_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

std::string file_content(const confgen::Collected& c, const std::string& path) {
  for (const auto& f : c.files) {
    if (f.path == path) {
      return f.content;
    }
  }
  return "(not written)";
}

}  // namespace

TEST_CASE("template: a domain's own client-certificate mode and CA reach its virtual hosts",
          "[confgen][certauth]") {
  Home h;
  // Global: off, with a CA. example.com: its own mode on (the global CA);
  // other.com: its own CA (the global mode); plain.com: nothing of its own.
  require_ok(h.prov->modify(schema::Kind::global, "",
                            {set("zimbraReverseProxyClientCertMode", "off"),
                             set("zimbraReverseProxyClientCertCA", k_ca_pem)},
                            false));
  require_ok(h.prov->create_domain("example.com", {set("zimbraVirtualHostname", "mail.example.com"),
                                                   set("zimbraReverseProxyClientCertMode", "on")}));
  require_ok(h.prov->create_domain("other.com", {set("zimbraVirtualHostname", "webmail.other.com"),
                                                 set("zimbraReverseProxyClientCertCA", k_ca_pem + "other\n")}));
  require_ok(h.prov->create_domain("plain.com", {set("zimbraVirtualHostname", "mail.plain.com")}));
  const confgen::Collected c = h.collected();
  CHECK(c.vars.at("http.domain_client_certs").text ==
        "[\"mail.example.com on conf/confgen/zmproxy.client-ca.crt\", "
        "\"webmail.other.com off conf/domaincerts/other.com.client-ca.crt\"]");
  CHECK(file_content(c, "conf/domaincerts/other.com.client-ca.crt") == k_ca_pem + "other\n");
  const std::string text = h.render();
  CHECK_THAT(text, Catch::Contains("\ndomain_client_certs = [\"mail.example.com on "));
  const config::ProxyConfig cfg = h.parse(text);
  CHECK(cfg.http.domain_client_certs.size() == 2);
  CHECK(cfg.http.client_cert_mode == "off");
}

TEST_CASE("template: no domain settings, no entries, and a domain name unfit for a file is refused",
          "[confgen][certauth]") {
  Home h;
  require_ok(h.prov->create_domain("example.com", {set("zimbraVirtualHostname", "mail.example.com")}));
  CHECK(h.collected().vars.at("http.domain_client_certs").text == "[]");
  CHECK(h.parse(h.render()).http.domain_client_certs.empty());
  // A domain with a mode but no virtual host name: nothing to select by SNI.
  require_ok(h.prov->create_domain("novhost.com", {set("zimbraReverseProxyClientCertMode", "on")}));
  CHECK(h.collected().vars.at("http.domain_client_certs").text == "[]");
  require_ok(h.prov->create_domain("bad.com", {set("zimbraVirtualHostname", "../etc"),
                                               set("zimbraReverseProxyClientCertMode", "on")}));
  CHECK_FALSE(confgen::collect_variables(*h.prov, h.lc, "proxy.example.com"));
}

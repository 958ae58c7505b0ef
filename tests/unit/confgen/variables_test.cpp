// confgen's variables for a small store: one mailbox server that is also the
// lookup target and runs memcached, one domain with a virtual host name and
// its own certificate.

#include "lib/confgen/variables.hpp"

#include "lib/provisioning/attr_changes.hpp"
#include "lib/provisioning/file_store.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy;
using provisioning::AttrChange;

namespace {

// The store takes PEM-shaped text only; confgen copies it as it is.
const std::string k_cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const std::string k_key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

// REQUIRE with the error's text in the report.
template <class R>
void require_ok(const R& r) {
  INFO((r ? std::string() : r.error().message));
  REQUIRE(r);
}

AttrChange set(std::string attr, std::string value) {
  return {AttrChange::Op::set, std::move(attr), std::move(value)};
}
AttrChange add(std::string attr, std::string value) {
  return {AttrChange::Op::add, std::move(attr), std::move(value)};
}

struct SmallStore {
  test::TempDir dir;
  std::unique_ptr<provisioning::FileStore> store;
  std::unique_ptr<provisioning::Provisioning> prov;
  localconfig::LocalConfig lc;

  SmallStore() : lc(*localconfig::LocalConfig::load(dir.path() / "localconfig.toml", dir.path())) {
    auto opened = provisioning::FileStore::open(dir.path() / "prov.ldif");
    REQUIRE(opened);
    store = std::move(*opened);
    prov = std::make_unique<provisioning::Provisioning>(*store, std::vector<std::string>{});
    require_ok(prov->create_server("mbox1.example.com",
                                {set("zimbraServiceHostname", "mbox1.example.com"),
                                 set("zimbraReverseProxyLookupTarget", "TRUE"),
                                 set("zimbraMailSSLPort", "8443"),
                                 add("zimbraServiceEnabled", "mailbox"),
                                 add("zimbraServiceEnabled", "memcached")}));
    require_ok(prov->create_domain("example.com",
                                {set("zimbraVirtualHostname", "mail.example.com"),
                                 set("zimbraPublicServiceHostname", "webmail.example.com"),
                                 set("zimbraSSLCertificate", k_cert),
                                 set("zimbraSSLPrivateKey", k_key)}));
    require_ok(lc.set("zimbra_server_hostname", "proxy.example.com"));
  }
};

}  // namespace

TEST_CASE("collect_variables: route, web, TLS and switches from a small store", "[confgen]") {
  SmallStore s;
  auto c = confgen::collect_variables(*s.prov, s.lc, "proxy.example.com");
  REQUIRE(c);
  const confgen::Variables& v = c->vars;
  // No server entry for this proxy: a note, globalConfig values.
  REQUIRE_FALSE(c->notes.empty());
  CHECK_THAT(c->notes[0], Catch::Contains("no server entry named 'proxy.example.com'"));
  // Route: the lookup target, memcached, the mailbox's web and admin ports.
  CHECK(v.at("route.handlers").text == "[\"mbox1.example.com:7072\"]");
  CHECK(v.at("route.memcached").text == "[\"mbox1.example.com:11211\"]");
  CHECK(v.at("http.upstreams").text == "[\"mbox1.example.com:8443\"]");  // upstream TLS by default
  CHECK(v.at("http.admin_upstreams").text == "[\"mbox1.example.com:7071\"]");
  CHECK_THAT(v.at("route.mailbox_servers").text, Catch::Contains("\"mbox1.example.com:8443\""));
  // Web: the names served, the domain's public URL and its certificate files.
  CHECK(v.at("http.server_names").text == "[\"mail.example.com\", \"proxy.example.com\"]");
  CHECK(v.at("http.domain_public_services").text == "[\"example.com webmail.example.com\"]");
  CHECK(v.at("tls.domain_certificates").text ==
        "[\"mail.example.com conf/domaincerts/example.com.crt conf/domaincerts/example.com.key\"]");
  REQUIRE(c->files.size() == 2);
  CHECK(c->files[0].path == "conf/domaincerts/example.com.crt");
  CHECK(c->files[0].content == k_cert);
  CHECK_FALSE(c->files[0].secret);
  CHECK(c->files[1].path == "conf/domaincerts/example.com.key");
  CHECK(c->files[1].secret);
  // TLS: no certificate attribute, the files an admin puts in conf/.
  CHECK(v.at("ssl.crt").text == "\"conf/zmproxy.crt\"");
  // Switches and the localconfig.
  CHECK(v.at("imap.authenticated_idle_timeout").text == "\"2100s\"");
  CHECK(v.at("http.noop_timeout").text == "\"1220s\"");  // zimbra_noop_max_timeout + 20 s
  CHECK(v.at("http.waitset_timeout").text == "\"1220s\"");
  CHECK(v.at("zimbra_server_hostname").text == "proxy.example.com");
  CHECK(v.at("zimbra_server_hostname").source == "localconfig");
  CHECK(v.at("zimbraReverseProxyLookupTarget").source == "default");
  CHECK(v.at("global.zimbraReverseProxyLookupTarget").source == "default");
}

TEST_CASE("collect_variables: a domain certificate name that is not a host name is refused",
          "[confgen]") {
  SmallStore s;
  require_ok(s.prov->create_domain("other.example.com",
                                {set("zimbraVirtualHostname", "../etc"),
                                 set("zimbraSSLCertificate", k_cert),
                                 set("zimbraSSLPrivateKey", k_key)}));
  auto c = confgen::collect_variables(*s.prov, s.lc, "proxy.example.com");
  REQUIRE_FALSE(c);
}

TEST_CASE("collect_variables: the client-certificate CA becomes a file, the certauth port a switch",
          "[confgen][certauth]") {
  SmallStore s;
  auto c = confgen::collect_variables(*s.prov, s.lc, "mbox1.example.com");
  require_ok(c);
  CHECK(c->vars.at("http.client_cert_ca").text == "\"\"");
  CHECK(c->vars.at("http.certauth_enabled").text == "true");
  CHECK(c->vars.at("zimbraMailSSLProxyClientCertPort").text == "3443");
  require_ok(s.prov->modify(provisioning::Kind::global, "",
                            {set("zimbraReverseProxyClientCertMode", "optional"),
                             set("zimbraReverseProxyClientCertCA", k_cert),
                             set("zimbraMailSSLProxyClientCertPort", "0")},
                            false));
  c = confgen::collect_variables(*s.prov, s.lc, "mbox1.example.com");
  require_ok(c);
  CHECK(c->vars.at("http.client_cert_ca").text == "\"conf/confgen/zmproxy.client-ca.crt\"");
  CHECK(c->vars.at("http.certauth_enabled").text == "false");
  CHECK(c->vars.at("zimbraReverseProxyClientCertMode").text == "\"optional\"");
  bool written = false;
  for (const auto& f : c->files) {
    if (f.path == "conf/confgen/zmproxy.client-ca.crt") {
      written = f.content == k_cert && !f.secret;
    }
  }
  CHECK(written);
}

TEST_CASE(
    "collect_variables: zimbraMemcachedClientServerList, when set, is the memcached list in its "
    "order",
    "[confgen]") {
  // The list zmproxypurge and zmlookupd's purge delete from (route::memcached_servers):
  // the proxies must hash over the same servers, or a purge misses the node a route is on.
  SmallStore s;
  require_ok(s.prov->modify(provisioning::Kind::global, "",
                            {add("zimbraMemcachedClientServerList", "mc2.example.com:11211"),
                             add("zimbraMemcachedClientServerList", "mc1.example.com:11311")},
                            false));
  auto c = confgen::collect_variables(*s.prov, s.lc, "proxy.example.com");
  REQUIRE(c);
  CHECK(c->vars.at("route.memcached").text ==
        "[\"mc2.example.com:11211\", \"mc1.example.com:11311\"]");
}

#include "lib/config/proxy_config.hpp"

#include "lib/config/domain_client_certs.hpp"
#include "lib/core/toml_guard.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::config;
using namespace std::chrono_literals;

namespace {

auto parse(std::string_view text) {
  return parse_config(text, "zmproxy.conf", "/opt/zmproxy");
}

}  // namespace

TEST_CASE("web security limits: defaults", "[config][http]") {
  auto cfg = parse("");
  REQUIRE(cfg);
  const HttpSection& h = (*cfg)->http;
  CHECK(h.trusted_proxies.empty());
  CHECK(h.body_timeout == 60s);
  CHECK(h.body_min_rate == 500);
  CHECK(h.tunnel_idle_timeout == 3600s);
}

TEST_CASE("trusted proxies from the localconfig string or an array", "[config][http]") {
  auto cfg = parse(
      "[http]\ntrusted_proxies = \"10.0.0.0/8, 192.0.2.1 ::1\"\nbody_timeout = \"5s\"\n"
      "body_min_rate = 0\ntunnel_idle_timeout = \"90s\"\n");
  REQUIRE(cfg);
  CHECK((*cfg)->http.trusted_proxies == std::vector<std::string>{"10.0.0.0/8", "192.0.2.1", "::1"});
  CHECK((*cfg)->http.body_timeout == 5s);
  CHECK((*cfg)->http.body_min_rate == 0);
  CHECK((*cfg)->http.tunnel_idle_timeout == 90s);
  cfg = parse("[http]\ntrusted_proxies = [\"2001:db8::/32\"]\n");
  REQUIRE(cfg);
  CHECK((*cfg)->http.trusted_proxies == std::vector<std::string>{"2001:db8::/32"});
  CHECK(parse("[http]\ntrusted_proxies = \"\"\n"));
}

TEST_CASE("bad web security limits are refused with one line naming the key", "[config][http]") {
  auto cfg = parse("[http]\ntrusted_proxies = \"10.0.0.0/8, proxy.example.com\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message,
             Catch::Contains("http.trusted_proxies") &&
                 Catch::Contains("'proxy.example.com' is not an address or CIDR"));
  cfg = parse("[http]\nbody_min_rate = -1\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("http.body_min_rate"));
  cfg = parse("[http]\ntunnel_idle_timeout = \"0s\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("http.tunnel_idle_timeout"));
}

TEST_CASE("web upstream health, long-poll timeouts and the error handler", "[config][http]") {
  auto cfg = parse("");
  REQUIRE(cfg);
  CHECK((*cfg)->http.max_fails == 1);
  CHECK((*cfg)->http.fail_timeout == 10s);
  CHECK((*cfg)->http.noop_timeout == 1220s);
  CHECK((*cfg)->http.waitset_timeout == 1220s);
  CHECK((*cfg)->http.error_handler_url.empty());
  // zimbraMailProxyReconnectTimeout is a string attribute: "10" is seconds.
  cfg = parse(
      "[http]\nmax_fails = 0\nfail_timeout = \"30\"\nnoop_timeout = \"620s\"\nwaitset_timeout = \"5m\"\n"
      "error_handler_url = \"https://errors.example.com/50x.html?lang=en\"\n");
  REQUIRE(cfg);
  CHECK((*cfg)->http.max_fails == 0);
  CHECK((*cfg)->http.fail_timeout == 30s);
  CHECK((*cfg)->http.noop_timeout == 620s);
  CHECK((*cfg)->http.waitset_timeout == 300s);
  CHECK((*cfg)->http.error_handler_url == "https://errors.example.com/50x.html?lang=en");
  for (const char* bad : {"error_handler_url = \"/errors.html\"", "error_handler_url = \"https://e.example/a b\"",
                          "error_handler_url = \"https://e.example/\\r\\nX: y\"",
                          "error_handler_url = \"https://e.example/#x\"", "error_handler_url = \"javascript:x\""}) {
    INFO(bad);
    cfg = parse(std::string("[http]\n") + bad + "\n");
    REQUIRE_FALSE(cfg);
    CHECK_THAT(cfg.error().message,
               Catch::Contains("http.error_handler_url") && Catch::Contains("zimbraReverseProxyErrorHandlerURL"));
  }
  cfg = parse("[http]\nmax_fails = -1\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("http.max_fails") && Catch::Contains("zimbraMailProxyMaxFails"));
  cfg = parse("[http]\nnoop_timeout = \"0s\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("http.noop_timeout"));
}

TEST_CASE("web upstreams are host:port or [IPv6]:port", "[config][http]") {
  auto cfg = parse(
      "[http]\nupstreams = [\"mbox1.example.com:8080\", \"[::1]:8080\", \"10.0.0.1:80\"]\n"
      "admin_upstreams = [\"[2001:db8::1]:7071\"]\n");
  REQUIRE(cfg);
  CHECK((*cfg)->http.upstreams.size() == 3);
  for (const char* bad : {"mbox1.example.com", "::1:8080", "[::1]", "host:0", "host:65536",
                          "host:8o", ":80", "[::1:8080"}) {
    INFO(bad);
    cfg = parse(std::string("[http]\nupstreams = [\"") + bad + "\"]\n");
    REQUIRE_FALSE(cfg);
    CHECK_THAT(cfg.error().message,
               Catch::Contains("http.upstreams") &&
                   Catch::Contains(std::string("'") + bad + "' is not an address") &&
                   Catch::Contains("[IPv6]:port"));
  }
  cfg = parse("[http]\nadmin_upstreams = [\"a:b:c\"]\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("http.admin_upstreams"));
}

TEST_CASE("throttle: Zimbra's limits off, failed logins counted, by default",
          "[config][throttle]") {
  auto cfg = parse("");
  REQUIRE(cfg);
  const ThrottleSection& t = (*cfg)->throttle;
  CHECK(t.ip_limit == 0);
  CHECK(t.user_limit == 0);
  CHECK(t.ip_window == 3600s);
  CHECK(t.ip_message == "Login rejected from this IP");
  CHECK(t.user_message == "Login rejected for this user");
  CHECK(t.failed_logins);
  CHECK(t.failed_window == 900s);
  CHECK(t.failed_lock == 0);
}

TEST_CASE("throttle: a rendered section reads, whitelist values split", "[config][throttle]") {
  auto cfg = parse(
      "[throttle]\nip_limit = 5\nip_window = 60\nimap_ip_limit = 7\nimap_ip_window = 120\n"
      "user_limit = 3\nuser_window = 30\nwhitelist = [\"10.0.0.0/8, 192.0.2.7\", "
      "\"2001:db8::/32\"]\n"
      "failed_delay = \"250ms\"\nfailed_max_delay = \"2000ms\"\nfailed_lock = 10\n");
  REQUIRE(cfg);
  const ThrottleSection& t = (*cfg)->throttle;
  CHECK(t.ip_limit == 5);
  CHECK(t.ip_window == 60s);
  CHECK(t.imap_ip_limit == 7);
  CHECK(t.imap_ip_window == 120s);
  CHECK(t.user_limit == 3);
  CHECK(t.user_window == 30s);
  CHECK(t.whitelist == std::vector<std::string>{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"});
  CHECK(t.failed_delay == 250ms);
  CHECK(t.failed_max_delay == 2s);
  CHECK(t.failed_lock == 10);
}

TEST_CASE("throttle: bad values are one line naming the key", "[config][throttle]") {
  auto cfg = parse("[throttle]\nwhitelist = [\"10.0.0.0/33\"]\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message,
             Catch::Contains("throttle.whitelist") && Catch::Contains("'10.0.0.0/33'"));
  cfg = parse("[throttle]\nip_window = 0\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message,
             Catch::Contains("throttle.ip_window") && Catch::Contains("whole seconds"));
  cfg = parse("[throttle]\nuser_window = \"1500ms\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("throttle.user_window"));
  cfg = parse("[throttle]\nfailed_delay = \"5s\"\nfailed_max_delay = \"1s\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("throttle.failed_max_delay"));
}

TEST_CASE("PROXY protocol listeners: names from the localconfig string or an array", "[config][server]") {
  auto cfg = parse("");
  REQUIRE(cfg);
  CHECK((*cfg)->server.proxy_protocol.empty());
  CHECK(parse("[server]\nproxy_protocol = \"\"\n"));
  cfg = parse("[server]\nproxy_protocol = \"imap, imaps pop3,pop3s http https admin certauth\"\n"
              "[http]\ntrusted_proxies = \"10.0.0.5\"\n");
  REQUIRE(cfg);
  CHECK((*cfg)->server.proxy_protocol ==
        std::vector<std::string>{"imap", "imaps", "pop3", "pop3s", "http", "https", "admin", "certauth"});
  cfg = parse("[server]\nproxy_protocol = [\"https\"]\n[http]\ntrusted_proxies = [\"10.0.0.0/8\"]\n");
  REQUIRE(cfg);
  CHECK((*cfg)->server.proxy_protocol == std::vector<std::string>{"https"});
}

TEST_CASE("PROXY protocol listeners: a wrong name, or no balancer to trust, is refused", "[config][server]") {
  auto cfg = parse("[server]\nproxy_protocol = \"imap, smtp\"\n[http]\ntrusted_proxies = \"10.0.0.5\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("server.proxy_protocol") &&
                                      Catch::Contains("'smtp' is not a listener") &&
                                      Catch::Contains("admin or certauth") &&
                                      Catch::Contains("zmproxy_proxy_protocol_listeners"));
  CHECK(cfg.error().message.find('\n') == std::string::npos);
  cfg = parse("[server]\nproxy_protocol = \"IMAP\"\n[http]\ntrusted_proxies = \"10.0.0.5\"\n");
  REQUIRE_FALSE(cfg);
  cfg = parse("[server]\nproxy_protocol = \"imap\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("server.proxy_protocol") &&
                                      Catch::Contains("http.trusted_proxies is empty") &&
                                      Catch::Contains("zmproxy_trusted_proxies"));
}

TEST_CASE("client certificates: off by default, the certauth listener only when asked for",
          "[config][http][certauth]") {
  auto cfg = parse("");
  REQUIRE(cfg);
  const HttpSection& h = (*cfg)->http;
  CHECK(h.client_cert_mode == "off");
  CHECK(h.client_cert_ca.empty());
  CHECK(h.client_cert_depth == 10);
  CHECK(h.certauth_port == 3443);
  CHECK_FALSE(certauth_listener(h));
  cfg = parse(
      "[http]\nenabled = true\nclient_cert_mode = \"optional\"\nclient_cert_ca = \"conf/ca.pem\"\n"
      "client_cert_depth = 3\ncertauth_port = 4443\n[kerberos]\nadmin_password = \"pw\"\n");
  REQUIRE(cfg);
  CHECK(certauth_listener((*cfg)->http));
  CHECK((*cfg)->http.client_cert_depth == 3);
  for (const char* off : {"[http]\nenabled = true\nmode = \"http\"\nclient_cert_mode = \"on\"\n"
                          "client_cert_ca = \"ca.pem\"\n",
                          "[http]\nenabled = true\nclient_cert_mode = \"on\"\nclient_cert_ca = \"ca.pem\"\n"
                          "certauth_enabled = false\n"}) {
    INFO(off);
    cfg = parse(off);
    REQUIRE(cfg);
    CHECK_FALSE(certauth_listener((*cfg)->http));
  }
}

TEST_CASE("bad client-certificate settings are refused naming the key and the attribute",
          "[config][http][certauth]") {
  auto cfg = parse("[http]\nclient_cert_mode = \"required\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message,
             Catch::Contains("http.client_cert_mode") && Catch::Contains("zimbraReverseProxyClientCertMode"));
  cfg = parse("[http]\nenabled = true\nclient_cert_mode = \"on\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message,
             Catch::Contains("http.client_cert_ca is empty") && Catch::Contains("zimbraReverseProxyClientCertCA"));
  cfg = parse("[http]\nclient_cert_depth = 0\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("http.client_cert_depth must be 1..100"));
  cfg = parse(
      "[http]\nenabled = true\nclient_cert_mode = \"on\"\nclient_cert_ca = \"ca.pem\"\n"
      "certauth_port = 443\n[kerberos]\nadmin_password = \"pw\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("http.certauth_port = 443 is used by another listener"));
  cfg = parse(
      "[http]\nenabled = true\nclient_cert_mode = \"on\"\nclient_cert_ca = \"ca.pem\"\n"
      "[kerberos]\nadmin_password = \"\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("ldap_nginx_password"));
}

TEST_CASE("HTTP/2: on by default, a boolean", "[config][http][http2]") {
  auto cfg = parse("");
  REQUIRE(cfg);
  CHECK((*cfg)->http.http2);
  cfg = parse("[http]\nhttp2 = false\n");
  REQUIRE(cfg);
  CHECK_FALSE((*cfg)->http.http2);
  cfg = parse("[http]\nhttp2 = \"no\"\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("http.http2"));
}

TEST_CASE("per-domain client certificates: entries, and a mode without any CA refused naming the host",
          "[config][http][certauth]") {
  auto cfg = parse("[http]\nenabled = true\nclient_cert_ca = \"ca.pem\"\n"
                   "domain_client_certs = [\"a.example.com on\", \"b.example.com optional b-ca.pem\", "
                   "\"c.example.com off\"]\n");
  REQUIRE(cfg);
  const auto domains = domain_client_certs((*cfg)->http);
  REQUIRE(domains.size() == 3);
  CHECK((domains[0].host == "a.example.com" && domains[0].mode == "on" && domains[0].ca.empty()));
  CHECK(domains[1].ca == "b-ca.pem");
  CHECK(client_cert_contexts_wanted((*cfg)->http));
  CHECK_FALSE(certauth_listener((*cfg)->http));  // the certauth listener follows the server's mode

  cfg = parse("[http]\nenabled = true\ndomain_client_certs = [\"c.example.com off\"]\n");
  REQUIRE(cfg);
  CHECK_FALSE(client_cert_contexts_wanted((*cfg)->http));
  cfg = parse("[http]\nenabled = false\ndomain_client_certs = [\"a.example.com on a.pem\"]\n");
  REQUIRE(cfg);
  CHECK_FALSE(client_cert_contexts_wanted((*cfg)->http));

  cfg = parse("[http]\nenabled = true\ndomain_client_certs = [\"a.example.com on\"]\n");
  REQUIRE_FALSE(cfg);
  CHECK_THAT(cfg.error().message, Catch::Contains("http.domain_client_certs: a.example.com") &&
                                      Catch::Contains("zimbraReverseProxyClientCertCA"));
  for (const char* bad : {"[\"a.example.com required ca.pem\"]", "[\"a.example.com\"]",
                          "[\"a.example.com on ca.pem extra\"]"}) {
    INFO(bad);
    cfg = parse(std::string("[http]\ndomain_client_certs = ") + bad + "\n");
    REQUIRE_FALSE(cfg);
    CHECK_THAT(cfg.error().message, Catch::Contains("http.domain_client_certs") &&
                                        Catch::Contains("hostname off|on|optional [ca-file]"));
  }
}

// Found by tests/fuzz/zmproxy_conf_fuzz.cpp (corpus/zmproxy_conf/header_no_key):
// toml++ 3.3 asserted on a table header starting with no key and aborted
// zmproxyd (start or reload) in builds with assertions on; lib/core/toml.hpp
// turns them off and the parser's own error comes back.
TEST_CASE("a table header without a key is one error line, not an abort (fuzz zmproxy_conf)",
          "[config]") {
  for (const char* text : {"[(", "[[=", "[[[1]]]", "[imap]\n[ (\n"}) {
    INFO(text);
    auto cfg = parse(text);
    REQUIRE_FALSE(cfg);
    CHECK(cfg.error().message.rfind("zmproxy.conf:", 0) == 0);
    CHECK(cfg.error().message.find('\n') == std::string::npos);
  }
}

// Found by tests/fuzz/zmproxy_conf_fuzz.cpp (corpus/zmproxy_conf/quoted_key_newline):
// a quoted key spelled with an escape ("a\nb") was named raw in the error,
// which then ran over two lines.
TEST_CASE("a key with control characters is named on one line (fuzz zmproxy_conf)", "[config]") {
  auto cfg = parse("[imap]\n\"a\\nb\\u0001\" = 1\n");
  REQUIRE_FALSE(cfg);
  CHECK(
      cfg.error().message ==
      "zmproxy.conf:2: imap.a\\nb\\u0001: unknown key; see zmproxy.conf(5) for the keys of [imap]");
  cfg = parse("[\"x\\ty\"]\n");
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().message.find('\t') == std::string::npos);
  // toml++'s own description quotes the byte it saw, a newline included
  // (corpus/zmproxy_conf/parse_error_newline).
  cfg = parse("[server]\nkernel_relay = f\n");
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().message.rfind("zmproxy.conf:2:", 0) == 0);
  CHECK(cfg.error().message.find('\n') == std::string::npos);
}

// Found by tests/fuzz/zmproxy_conf_fuzz.cpp (corpus/zmproxy_conf/non_ascii_outside_string):
// toml++ 3.3's whitespace test reaches __builtin_unreachable for some
// non-ASCII code points where whitespace may be ("x = \u00e9", U+FCFF before a
// header); lib/core/toml_guard.cpp refuses them before toml++ sees them.
TEST_CASE("non-ASCII outside strings is refused before toml++ (fuzz zmproxy_conf)", "[config]") {
  using zmproxy::core::toml_unsafe_line;
  CHECK(toml_unsafe_line("") == 0);
  CHECK(toml_unsafe_line("\xEF\xBB\xBF[imap]\nport = 143\n") == 0);  // a byte order mark
  CHECK(toml_unsafe_line("a = \"caf\xC3\xA9\" # caf\xC3\xA9\nb = 'caf\xC3\xA9'\n") == 0);
  CHECK(toml_unsafe_line("a = \"\"\"\nx\xC3\xA9\n\"\"\"\nb = '''\n\xC3\xA9'''\n") == 0);
  CHECK(toml_unsafe_line("a = \"q\\\"\xC3\xA9\"\n") == 0);  // an escaped quote
  CHECK(toml_unsafe_line("[imap]\nport = \xC3\xA9\n") == 2);
  CHECK(toml_unsafe_line("\xEF\xB3\xBFrberos]\n") == 1);
  CHECK(toml_unsafe_line("a = \"x\"\n\xC2\xA7\n") == 2);
  CHECK(toml_unsafe_line("s = \"\"\"\\\n\xC2\xA7\"\"\"\n") == 2);  // tomlplusplus#190
  CHECK(toml_unsafe_line("a = \"x\nb = \xC3\xA9\n") == 2);  // an unterminated string ends at LF
  // corpus/localconfig/quote_inside_bare_value: a quote inside a bare token
  // opens no string for toml++, which scans on through the U+041B.
  CHECK(toml_unsafe_line("a =0\"0001F60\xD0\x9Bt\"\n") == 1);
  CHECK(
      toml_unsafe_line(
          "a = [\"x\xC3\xA9\", '\xC3\xA9']\nb = { c = \"\xC3\xA9\" }\n\"k\xC3\xA9\".\"d\" = 1\n") ==
      0);
  auto cfg = parse("[imap]\nport = \xC3\xA9\n");
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().message ==
        "zmproxy.conf:2: a non-ASCII character outside a quoted string; quote the value");
  CHECK(parse("[server]\nname = \"caf\xC3\xA9.example\"\n").has_value() ==
        parse("[server]\nname = \"cafe.example\"\n").has_value());
}

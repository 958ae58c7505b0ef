#include <catch2/catch.hpp>

#include "lib/confgen/template.hpp"
#include "lib/core/strings.hpp"

using namespace zmproxy::confgen;
namespace core = zmproxy::core;

namespace {

Variables sample() {
  Variables v;
  v["zimbraImapProxyBindPort"] = Variable{"143", true, "default"};
  v["http.enabled"] = Variable{"false", false, "derived"};
  v["zimbraReverseProxyAdminEnabled"] = Variable{"true", true, "server"};
  v["zimbra_server_hostname"] = Variable{core::toml_escape("proxy \"one\""), true, "localconfig"};
  return v;
}

}  // namespace

TEST_CASE("render substitutes variables and enablers", "[confgen]") {
  auto r = render("[imap]\nport = ${zimbraImapProxyBindPort}\n${enabler:http.enabled}x = 1\n"
                  "${enabler:zimbraReverseProxyAdminEnabled}y = 2\nname = \"${zimbra_server_hostname}\"\n",
                  sample(), "t");
  REQUIRE(r);
  CHECK(*r == "[imap]\nport = 143\n#x = 1\ny = 2\nname = \"proxy \\\"one\\\"\"\n");
}

TEST_CASE("render keeps $${ as a literal and names the line of an unknown variable", "[confgen]") {
  auto ok = render("# $${not.a.variable}\n", sample(), "t");
  REQUIRE(ok);
  CHECK(*ok == "# ${not.a.variable}\n");
  auto bad = render("a = 1\nb = ${zimbraNoSuch}\n", sample(), "zmproxy.conf.template");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("zmproxy.conf.template:2: unknown variable ${zimbraNoSuch}") == 0);
  auto open = render("a = ${zimbraImapProxyBindPort\nb = 2}\n", sample(), "t");
  REQUIRE_FALSE(open);
  CHECK(open.error().message.find("t:1:") == 0);
}

TEST_CASE("key_sources maps configuration keys to the variables behind them", "[confgen]") {
  auto m = key_sources("[imap]\nport = ${zimbraImapProxyBindPort}\nidle = \"${imap_max_idle_time}s\"\n"
                       "[http]\nenabled = ${http.enabled}\nfixed = 1\n");
  CHECK(m["imap.port"] == "zimbraImapProxyBindPort");
  CHECK(m["imap.idle"] == "imap_max_idle_time");
  CHECK(m["http.enabled"] == "http.enabled");
  CHECK(m.count("http.fixed") == 0);
}

TEST_CASE("TOML spellings escape what TOML needs", "[confgen]") {
  CHECK(toml_string("a\"b\\c\nd") == "\"a\\\"b\\\\c\\nd\"");
  CHECK(toml_array({"x", "y z"}) == "[\"x\", \"y z\"]");
  CHECK(toml_array({}) == "[]");
  CHECK(core::toml_escape(std::string("\x01", 1)) == "\\u0001");
}

// [server] control_address, control_port, control_secret (issue 19): the
// control endpoint's settings as confgen renders them.

#include "lib/config/proxy_config.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::config;

TEST_CASE("server.control_address, control_port, control_secret: off by default, read as rendered",
          "[config][control]") {
  auto cfg = parse_config("", "zmproxy.conf", "/opt/zmproxy");
  REQUIRE(cfg);
  CHECK((*cfg)->server.control_port == 0);
  CHECK((*cfg)->server.control_address == "127.0.0.1");
  CHECK((*cfg)->server.control_secret.empty());
  cfg = parse_config(
      "[server]\ncontrol_address = \"10.9.0.1\"\ncontrol_port = 7075\n"
      "control_secret = \"0123456789abcdef0123\"\n",
      "zmproxy.conf", "/opt/zmproxy");
  REQUIRE(cfg);
  CHECK((*cfg)->server.control_address == "10.9.0.1");
  CHECK((*cfg)->server.control_port == 7075);
  CHECK((*cfg)->server.control_secret == "0123456789abcdef0123");
  CHECK_FALSE(parse_config("[server]\ncontrol_port = \"x\"\n", "zmproxy.conf", "/opt/zmproxy"));
}

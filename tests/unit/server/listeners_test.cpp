#include "lib/server/generation.hpp"
#include "lib/server/listener_plan.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace zmproxy;
using namespace zmproxy::server;

namespace {

std::vector<std::string> names(const std::vector<ListenerSpec>& specs) {
  std::vector<std::string> out;
  for (const ListenerSpec& s : specs) {
    out.push_back(std::string(protocol_name(s.protocol)) + " " + s.address + ":" +
                  std::to_string(s.port) + " " + s.attribute);
  }
  return out;
}

}  // namespace

TEST_CASE("listener_specs: the listeners a configuration asks for", "[server][listeners]") {
  config::ProxyConfig c = config::default_config();
  c.server.bind_address = "127.0.0.1";
  // Defaults: mail on (IMAP, IMAPS, POP3, POP3S), web and admin off.
  CHECK(names(listener_specs(c, true)) ==
        std::vector<std::string>{"imap 127.0.0.1:143 imap.port", "imaps 127.0.0.1:993 imap.ssl_port",
                                 "pop3 127.0.0.1:110 pop3.port", "pop3s 127.0.0.1:995 pop3.ssl_port"});
  // Without a certificate no TLS listener.
  CHECK(names(listener_specs(c, false)) ==
        std::vector<std::string>{"imap 127.0.0.1:143 imap.port", "pop3 127.0.0.1:110 pop3.port"});
  c.mail_enabled = false;
  c.http.enabled = true;
  c.http.mode = "https";
  c.http.admin_enabled = true;
  CHECK(names(listener_specs(c, true)) ==
        std::vector<std::string>{"https 127.0.0.1:443 http.ssl_port",
                                 "admin 127.0.0.1:9071 http.admin_port"});
  c.http.mode = "http";
  CHECK(names(listener_specs(c, true)) ==
        std::vector<std::string>{"http 127.0.0.1:80 http.port", "admin 127.0.0.1:9071 http.admin_port"});
  CHECK(names(listener_specs(c, false)) == std::vector<std::string>{"http 127.0.0.1:80 http.port"});
}

TEST_CASE("held_ports reads run/zmproxyd.addr", "[server][listeners]") {
  test::TempDir dir;
  const auto file = dir.path() / "zmproxyd.addr";
  CHECK(held_ports(file).empty());  // no file: nothing held
  std::ofstream(file) << "imap 127.0.0.1:1143\npop3 [::1]:1110\nhttps [::1]:8443\n\nnonsense\n"
                         // as a zmproxyd from before [v6]:port wrote them
                         "imaps ::1:1993\npop3s :::1995\n";
  CHECK(held_ports(file) == std::vector<int>{1143, 1110, 8443, 1993, 1995});
}

TEST_CASE("plan_listeners keeps the unchanged, opens the new, refuses a port changing hands",
          "[server][listeners]") {
  const std::vector<ListenerSpec> held = {{Protocol::imap, "127.0.0.1", 143, "imap.port"},
                                          {Protocol::pop3, "127.0.0.1", 110, "pop3.port"}};
  SECTION("the same listeners: all kept, none opened") {
    const ListenerPlan p = plan_listeners(held, held);
    CHECK(p.kept == std::vector<bool>{true, true});
    CHECK(p.to_open.empty());
  }
  SECTION("a port moved: the old is closed, the new opened") {
    const ListenerPlan p =
        plan_listeners(held, {{Protocol::imap, "127.0.0.1", 1143, "imap.port"},
                              {Protocol::pop3, "127.0.0.1", 110, "pop3.port"}});
    CHECK(p.kept == std::vector<bool>{false, true});
    REQUIRE(p.to_open.size() == 1);
    CHECK(p.to_open[0].spec.port == 1143);
    CHECK(p.to_open[0].conflict.empty());
  }
  SECTION("a held port passed to another protocol in one reload is a conflict") {
    const ListenerPlan p = plan_listeners(held, {{Protocol::pop3, "127.0.0.1", 143, "pop3.port"}});
    CHECK(p.kept == std::vector<bool>{false, false});
    REQUIRE(p.to_open.size() == 1);
    CHECK(p.to_open[0].conflict ==
          "port 143 moves from imap to pop3 (pop3.port): do it in two reloads (move imap "
          "elsewhere first) or restart");
  }
  SECTION("port 0 (any free port) never conflicts") {
    const std::vector<ListenerSpec> any = {{Protocol::imap, "127.0.0.1", 0, "imap.port"}};
    const ListenerPlan p = plan_listeners(any, {{Protocol::pop3, "127.0.0.1", 0, "pop3.port"}});
    REQUIRE(p.to_open.size() == 1);
    CHECK(p.to_open[0].conflict.empty());
  }
}

#include "lib/ctl/fleet_status.hpp"

#include "lib/ctl/fleet_control.hpp"
#include "lib/ctl/fleet_forget.hpp"
#include "lib/provisioning/file_store.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy;
using provisioning::Entry;

namespace {

Entry server(const std::string& name, provisioning::AttrMap attrs) {
  attrs["cn"] = {name};
  return Entry{"cn=" + name + ",cn=servers,cn=zimbra", std::move(attrs)};
}

}  // namespace

TEST_CASE("fleet members: proxies by service, lookup handlers by lookup target", "[ctl][fleet]") {
  const Entry global{"cn=config,cn=zimbra", {{"zimbraReverseProxyLookupTarget", {"FALSE"}}}};
  const std::vector<Entry> servers = {
      server("p2", {{"zimbraServiceEnabled", {"memcached", "proxy"}},
                    {"zimbraServiceHostname", {"10.0.0.2"}},
                    {"zmproxyControlPort", {"7076"}}}),
      server("p1", {{"zimbraServiceEnabled", {"proxy"}}, {"zmproxyControlPort", {"7075"}}}),
      server("mbox", {{"zimbraServiceEnabled", {"mailbox"}},
                      {"zimbraReverseProxyLookupTarget", {"TRUE"}},
                      {"zmlookupdControlPort", {"7077"}}}),
      server("p3", {{"zimbraServiceEnabled", {"proxy"}}}),
  };
  const auto proxies = ctl::fleet_members(global, servers, ctl::FleetRole::proxy);
  REQUIRE(proxies.size() == 3);
  CHECK(proxies[0].server == "p1");
  CHECK(proxies[0].host == "p1");  // no zimbraServiceHostname: the name
  CHECK(proxies[0].port == 7075);
  CHECK(proxies[1].host == "10.0.0.2");
  CHECK(proxies[1].port == 7076);
  CHECK(proxies[2].port == 0);  // no endpoint
  const auto lookups = ctl::fleet_members(global, servers, ctl::FleetRole::lookup);
  REQUIRE(lookups.size() == 1);
  CHECK(lookups[0].server == "mbox");
  CHECK(lookups[0].port == 7077);
  // The global config's TRUE makes every server without its own value a target.
  const Entry everyone{"cn=config,cn=zimbra", {{"zimbraReverseProxyLookupTarget", {"TRUE"}}}};
  CHECK(ctl::fleet_members(everyone, servers, ctl::FleetRole::lookup).size() == 4);
}

TEST_CASE("fleet status: one line a proxy, up or down with the reason", "[ctl][fleet]") {
  ctl::FleetAnswer up{{"p1", "127.0.0.1", 7075}, true, "", {}};
  up.reply.json = true;
  up.reply.text =
      R"({"running":true,"pid":9,"uptime_seconds":12,"generation":3,"connections":{"imap":{"active":2,"accepted":5},"pop3":{"active":1,"accepted":1}}})";
  ctl::FleetAnswer down{
      {"p2", "::1", 7076}, false, "cannot connect to [::1]:7076: Connection refused", {}};
  ctl::FleetAnswer none{{"p3", "p3", 0}, false, "no control endpoint; set one", {}};
  ctl::FleetAnswer refused{{"p4", "127.0.0.1", 7078}, true, "", {}};
  refused.reply.text = "not allowed over TCP";
  CHECK(ctl::fleet_status_line(up) == "p1  127.0.0.1:7075  up  generation 3, up 12 s, 3 sessions");
  CHECK(ctl::fleet_status_line(down) ==
        "p2  [::1]:7076  down  cannot connect to [::1]:7076: Connection refused");
  CHECK(ctl::fleet_status_line(none) == "p3  -  down  no control endpoint; set one");
  CHECK(ctl::fleet_status_line(refused) ==
        "p4  127.0.0.1:7078  down  refused: not allowed over TCP");
  CHECK(
      ctl::fleet_status_json({up, down}) ==
      R"([{"server":"p1","endpoint":"127.0.0.1:7075","up":true,"generation":3,"uptime_seconds":12,)"
      R"("sessions":3},{"server":"p2","endpoint":"[::1]:7076","up":false,)"
      R"("reason":"cannot connect to [::1]:7076: Connection refused"}])");
  CHECK(ctl::fleet_failure(up).empty());
  CHECK(ctl::fleet_failure(down) ==
        "p2 ([::1]:7076): cannot connect to [::1]:7076: Connection refused");
  CHECK(ctl::fleet_failure(none) == "p3: no control endpoint; set one");
  CHECK(ctl::fleet_failure(refused) == "p4 (127.0.0.1:7078): refused: not allowed over TCP");
}

TEST_CASE("zmprov fc -a with no lookup handler in the store asks this host's zmlookupd",
          "[ctl][fleet]") {
  zmproxy::test::TempDir dir;
  auto store = provisioning::FileStore::open(dir.path() / "prov.ldif");
  REQUIRE(store.has_value());
  ctl::FleetAsk ask;
  ask.local_server = "here.example.com";
  ask.home = core::HomePaths{dir.path()};
  ask.each = std::chrono::milliseconds(500);
  const auto failures = ctl::flush_fleet(**store, ask);
  REQUIRE(failures.size() == 1);  // nothing listens on run/zmlookupd.sock
  CHECK(failures[0].rfind("here.example.com (local control socket): nothing answers on ", 0) == 0);
  ask.local_server.clear();
  CHECK(ctl::flush_fleet(**store, ask).empty());  // no fleet, no local server: nothing to ask
}

TEST_CASE("zmproxypurge's FORGET lines: the account's names, once each, bounded", "[ctl][fleet]") {
  const Entry alice{"uid=alice,ou=people,dc=example,dc=com",
                    {{"zimbraMailDeliveryAddress", {"Alice@Example.com"}},
                     {"zimbraMailAlias", {"al@example.com", "alice@example.com", "bad name@x"}}}};
  CHECK(ctl::forget_commands(alice, "AL@example.com") ==
        std::vector<std::string>{"FORGET al@example.com alice@example.com"});
  provisioning::Values many;
  for (int i = 0; i < 200; ++i) {
    many.push_back("alias" + std::to_string(i) + "@a-rather-long-domain-name.example.com");
  }
  const Entry bob{"uid=bob",
                  {{"zimbraMailDeliveryAddress", {"bob@example.com"}}, {"zimbraMailAlias", many}}};
  const auto lines = ctl::forget_commands(bob, "bob@example.com");
  REQUIRE(lines.size() > 1);
  std::size_t names = 0;
  for (const std::string& line : lines) {
    CHECK(line.size() <= 3072);
    CHECK(line.rfind("FORGET ", 0) == 0);
    names += static_cast<std::size_t>(std::count(line.begin(), line.end(), ' '));
  }
  CHECK(names == 201);
}

// zmprov flushCache: -a reverseproxylookup goes to the fleet (issue 19),
// without -a to the local zmlookupd, as before.

#include "lib/provisioning/file_store.hpp"
#include "lib/provisioning/prov_shell.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace zmproxy::provisioning;

TEST_CASE("zmprov fc -a reverseproxylookup asks the fleet, a line per server not reached",
          "[provisioning]") {
  zmproxy::test::TempDir dir;
  auto store = FileStore::open(dir.path() / "prov.ldif");
  REQUIRE(store.has_value());
  Provisioning prov(**store, {});
  int local = 0;
  int fleet = 0;
  std::vector<std::string> unreached;
  ProvOptions options;
  options.flush_lookup = [&]() -> zmproxy::Result<std::string> {
    ++local;
    return std::string("flushed");
  };
  options.flush_fleet = [&] {
    ++fleet;
    return unreached;
  };
  std::ostringstream out;
  std::ostringstream err;
  ProvShell shell(prov, options, out, err);
  CHECK(shell.run({"fc", "-a", "reverseproxylookup"}) == ProvStatus::ok);
  CHECK((local == 0 && fleet == 1));
  CHECK(shell.run({"fc", "reverseproxylookup"}) == ProvStatus::ok);
  CHECK((local == 1 && fleet == 1));
  unreached = {"p2 (127.0.0.1:7076): cannot connect", "l1: no control endpoint"};
  CHECK(shell.run({"flushCache", "-a", "all"}) == ProvStatus::failed);
  CHECK(err.str() ==
        "ERROR: service.FAILURE (p2 (127.0.0.1:7076): cannot connect)\n"
        "ERROR: service.FAILURE (l1: no control endpoint)\n");
  CHECK(fleet == 2);
  CHECK(shell.run({"fc", "-a", "account"}) == ProvStatus::ok);  // nothing to flush
  CHECK(fleet == 2);
}

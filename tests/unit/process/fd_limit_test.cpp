#include "lib/process/fd_limit.hpp"

#include <catch2/catch.hpp>

#include <sys/resource.h>

using zmproxy::process::raise_fd_limit;

TEST_CASE("the soft open-file limit is raised to the hard one", "[server][limits]") {
  rlimit before{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
  const auto r = raise_fd_limit(16, "test", "workers");
  CHECK(r.soft == r.hard);
  CHECK(r.hard == before.rlim_max);
  CHECK(r.warning.empty());
}

TEST_CASE("a limit below what the workers need is a one-line warning naming the setting",
          "[server][limits]") {
  rlimit now{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &now) == 0);
  if (now.rlim_max == RLIM_INFINITY) {
    SUCCEED("no limit to fall short of");
    return;
  }
  const auto r = raise_fd_limit(now.rlim_max + 1, "zmproxyd", "server.worker_connections");
  CHECK(r.warning.find("zmproxyd: the open-file limit is") == 0);
  CHECK(r.warning.find("server.worker_connections") != std::string::npos);
  CHECK(r.warning.find('\n') == std::string::npos);
}

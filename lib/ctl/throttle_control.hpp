#pragma once
// zmproxyctl throttle list | show ADDRESS-OR-USER | clear ADDRESS-OR-USER:
// the login-throttling counters the fleet shares in memcached
// (lib/throttle/throttle_keys.hpp), read from EVERY server of [route]
// memcached in conf/zmproxy.conf, each server asked for its own keys
// (route::MemcachedScan), so counters a Zimbra proxy hashed elsewhere are
// found too; judged against [throttle] of the same file (throttle_rows.hpp).
// clear deletes the counters on each server that holds them.
//
// Exit codes: 0 done (also when nothing was found), 1 failed (the
// configuration does not load, no memcached configured, a server could not
// be asked: one line each on `err`, the other servers still served),
// 2 usage (one usage line on `err`).
//
// Thread affinity: the calling thread; BLOCKING (a tool's main).

#include "lib/core/home.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace zmproxy::ctl {

struct ThrottleOptions {
  core::HomePaths home;
  std::vector<std::string> args;  // after "throttle": the sub-verb and its argument
  bool json = false;              // list, show
};

inline constexpr const char* k_throttle_usage =
    "usage: zmproxyctl throttle list [--json] | show ADDRESS-OR-USER [--json] | clear "
    "ADDRESS-OR-USER";

int proxy_throttle(const ThrottleOptions& o, std::ostream& out, std::ostream& err);

}  // namespace zmproxy::ctl

#pragma once
// What `zmproxyctl status` prints from zmproxyd's STATUS reply (one JSON
// object, server/status.hpp) and zmconfigd's last decision (run/confgen.state).
// Pure.

#include <cstddef>
#include <string>
#include <string_view>

namespace zmproxy::ctl {

// The value of "key" (a number or a string, unquoted) in the flat JSON the
// daemons write, searched from `from`; "" when absent.
std::string json_field(std::string_view json, std::string_view key, std::size_t from = 0);

// "proxy is running." and the lines under it; `watcher`: the confgen.state
// object, or "".
std::string status_text(std::string_view status, std::string_view watcher);

}  // namespace zmproxy::ctl

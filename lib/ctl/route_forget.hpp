#pragma once
// `zmproxyctl forget <name>... | --all`: the running zmproxyd of this home
// drops those users' in-process routes (its FORGET control command,
// lib/route/forget_command.hpp), 100 names a command. Prints
// "forgot N in-process routes"; exit 0, or 1 (not running, a name that is
// not one, zmproxyd's refusal), with one line on standard error.

#include "lib/core/home.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace zmproxy::ctl {

int proxy_forget(const core::HomePaths& home, const std::vector<std::string>& names, bool all, std::ostream& out,
                 std::ostream& err);

}  // namespace zmproxy::ctl

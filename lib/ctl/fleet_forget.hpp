#pragma once
// What zmproxypurge tells the proxies after the memcached delete (issue 19):
// FORGET with an account's names, to every proxy the store lists with a
// control endpoint (fleet_control.hpp), so no proxy keeps a route it holds
// in memory.

#include "lib/ctl/fleet_control.hpp"
#include "lib/provisioning/entry.hpp"

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::ctl {

// "FORGET name ..." lines for the account: its zimbraMailDeliveryAddress,
// its zimbraMailAlias values and the name it was given as, lower-cased,
// without duplicates or names with blanks, each line under 3 KiB (the
// endpoint takes 4 KiB with the proof). Pure.
std::vector<std::string> forget_commands(const provisioning::Entry& account,
                                         std::string_view given);

// Send them to `proxies`; prints "told N of M proxy endpoints to forget
// <address>" on `out` (each reply too when `verbose`), one line on `err` a
// proxy not reached or refusing. True when every proxy answered OK.
bool forget_on_proxies(const std::vector<FleetMember>& proxies,
                       const provisioning::Entry& account,
                       std::string_view given,
                       const FleetAsk& ask,
                       bool verbose,
                       std::ostream& out,
                       std::ostream& err);

}  // namespace zmproxy::ctl

#pragma once
// `zmproxyctl status --fleet`: every proxy server the store lists, asked for
// STATUS over its control endpoint (fleet_control.hpp); one line each, or
// one JSON array. Exit 0 when every proxy answered, 1 otherwise.

#include "lib/ctl/fleet_control.hpp"
#include "lib/ctl/proxy_control.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace zmproxy::ctl {

int proxy_status_fleet(const ControlOptions& o, std::ostream& out, std::ostream& err);

// "<server>  <host:port>  up  generation G, up U s, S sessions" or
// "<server>  <host:port>  down  <why>" (pure).
std::string fleet_status_line(const FleetAnswer& answer);

// [{"server":..,"endpoint":..,"up":true,"generation":..,"uptime_seconds":..,
// "sessions":..} or {..,"up":false,"reason":..}, ...] (pure).
std::string fleet_status_json(const std::vector<FleetAnswer>& answers);

// The sessions open now: the "active" connections of every listener in a
// STATUS reply (pure).
long status_sessions(std::string_view status);

}  // namespace zmproxy::ctl

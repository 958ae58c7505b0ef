#pragma once
// The fleet as the store lists it, and one command sent to each of its
// members' TCP control endpoints (issue 19, fleet-wide admin): what
// `zmproxyctl status --fleet`, `zmprov fc -a reverseproxylookup` and
// `zmproxypurge` share.
//
// Proxies are the server entries whose zimbraServiceEnabled has "proxy";
// lookup handlers those with zimbraReverseProxyLookupTarget TRUE (the server's
// own value, else the global config's), as zmproxyd's route.handlers. Each
// is reached at its zimbraServiceHostname (else its name) and the port of
// its zmproxyControlPort / zmlookupdControlPort.

#include "lib/core/home.hpp"
#include "lib/core/result.hpp"
#include "lib/net/control_socket.hpp"
#include "lib/provisioning/entry.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::provisioning {
class Directory;
}

namespace zmproxy::ctl {

enum class FleetRole { proxy, lookup };

struct FleetMember {
  std::string server;  // the entry's name (cn)
  std::string host;    // zimbraServiceHostname, else the name
  unsigned port = 0;   // the control port; 0 = the entry has none
};

// The members of one role, sorted by name (pure over the entries).
std::vector<FleetMember> fleet_members(const provisioning::Entry& global,
                                       const std::vector<provisioning::Entry>& servers,
                                       FleetRole role);
// The same, read from the store.
Result<std::vector<FleetMember>> fleet_members(provisioning::Directory& dir, FleetRole role);

// The attribute that holds a role's port: "zmproxyControlPort" or "zmlookupdControlPort".
std::string_view control_port_attribute(FleetRole role);

struct FleetAnswer {
  FleetMember member;
  bool reached = false;
  std::string error;        // why not, one line, when !reached
  net::ControlReply reply;  // when reached (a refusal is !reply.ok)
};

struct FleetAsk {
  std::string secret;                     // zmproxy_control_secret
  std::chrono::milliseconds each{3'000};  // one endpoint's whole exchange
  // Members without a port that are this server (zimbra_server_hostname) are
  // asked on this home's control socket instead.
  std::string local_server;
  core::HomePaths home;
};

// `command` to every member at once (a thread each, at most 32 at a time),
// in the members' order; a round of 32 takes at most `each` plus 2 s, and a
// member that has not answered by then (a name lookup that hangs) is
// reported as not reached.
std::vector<FleetAnswer> ask_fleet(const std::vector<FleetMember>& members,
                                   FleetRole role,
                                   std::string_view command,
                                   const FleetAsk& ask);

// "<server> (<host:port>): <why>" for an answer that failed (not reached, or
// refused), "" for one that succeeded.
std::string fleet_failure(const FleetAnswer& answer);

// `zmprov fc -a reverseproxylookup`: FLUSH to every lookup handler (they
// rebuild from the store), then FORGET ALL to every proxy (they drop the
// routes they hold in memory); one fleet_failure line for each server that
// failed, or one line when the store cannot be read. Empty: every one did.
// With no lookup handler in the store, this host's zmlookupd is asked on its
// control socket, as without -a.
std::vector<std::string> flush_fleet(provisioning::Directory& dir, const FleetAsk& ask);

}  // namespace zmproxy::ctl

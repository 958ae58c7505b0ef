#include "lib/ctl/fleet_status.hpp"

#include "lib/core/address.hpp"
#include "lib/core/json.hpp"
#include "lib/ctl/status_text.hpp"
#include "lib/localconfig/localconfig.hpp"
#include "lib/provisioning/open_store.hpp"

#include <ostream>

namespace zmproxy::ctl {

namespace {

constexpr const char* k_listeners[] = {"imap", "imaps", "pop3",  "pop3s",
                                       "http", "https", "admin", "certauth"};

std::string endpoint_of(const FleetMember& m) {
  return m.port != 0 ? core::format_address(m.host, m.port) : std::string("-");
}

bool answered(const FleetAnswer& a) {
  return a.reached && a.reply.json;
}

std::string down_reason(const FleetAnswer& a) {
  if (!a.reached) {
    return a.error;
  }
  return "refused: " + a.reply.text;
}

}  // namespace

long status_sessions(std::string_view status) {
  const auto conns = status.find("\"connections\":");
  if (conns == std::string_view::npos) {
    return 0;
  }
  long total = 0;
  for (const char* p : k_listeners) {
    const auto at = status.find("\"" + std::string(p) + "\":{", conns);
    if (at == std::string_view::npos) {
      continue;
    }
    try {
      total += std::stol(json_field(status, "active", at));
    } catch (const std::exception&) {
    }
  }
  return total;
}

std::string fleet_status_line(const FleetAnswer& a) {
  const std::string head = a.member.server + "  " + endpoint_of(a.member) + "  ";
  if (!answered(a)) {
    return head + "down  " + down_reason(a);
  }
  const std::string_view j = a.reply.text;
  return head + "up  generation " + json_field(j, "generation") + ", up " +
         json_field(j, "uptime_seconds") + " s, " + std::to_string(status_sessions(j)) +
         " sessions";
}

std::string fleet_status_json(const std::vector<FleetAnswer>& answers) {
  std::string out = "[";
  for (const FleetAnswer& a : answers) {
    if (out.size() > 1) {
      out += ",";
    }
    out += "{\"server\":" + core::json_quote(a.member.server) +
           ",\"endpoint\":" + core::json_quote(endpoint_of(a.member));
    if (answered(a)) {
      const std::string_view j = a.reply.text;
      const std::string generation = json_field(j, "generation");
      const std::string uptime = json_field(j, "uptime_seconds");
      out +=
          ",\"up\":true,\"generation\":" + (generation.empty() ? std::string("null") : generation) +
          ",\"uptime_seconds\":" + (uptime.empty() ? std::string("null") : uptime) +
          ",\"sessions\":" + std::to_string(status_sessions(j));
    } else {
      out += ",\"up\":false,\"reason\":" + core::json_quote(down_reason(a));
    }
    out += "}";
  }
  return out + "]";
}

int proxy_status_fleet(const ControlOptions& o, std::ostream& out, std::ostream& err) {
  auto lc = localconfig::LocalConfig::load(o.home.localconfig(), o.home.home);
  if (!lc) {
    err << "zmproxyctl: " << lc.error().message << "\n";
    return 1;
  }
  auto store = provisioning::open_store(*lc, o.home);
  if (!store) {
    err << "zmproxyctl: " << store.error().message << "\n";
    return 1;
  }
  auto members = fleet_members(**store, FleetRole::proxy);
  if (!members) {
    err << "zmproxyctl: " << members.error().message << "\n";
    return 1;
  }
  if (members->empty()) {
    err << "zmproxyctl: the store lists no proxy server (zmprov ms SERVER +zimbraServiceEnabled "
           "proxy)\n";
    return 1;
  }
  FleetAsk ask;
  ask.secret = lc->value_or_empty("zmproxy_control_secret");
  ask.local_server = lc->value_or_empty("zimbra_server_hostname");
  ask.home = o.home;
  const auto answers = ask_fleet(*members, FleetRole::proxy, "STATUS", ask);
  bool all = true;
  for (const FleetAnswer& a : answers) {
    all = all && answered(a);
  }
  if (o.json) {
    out << fleet_status_json(answers) << "\n";
  } else {
    for (const FleetAnswer& a : answers) {
      out << fleet_status_line(a) << "\n";
    }
  }
  return all ? 0 : 1;
}

}  // namespace zmproxy::ctl

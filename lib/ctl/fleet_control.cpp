#include "lib/ctl/fleet_control.hpp"

#include "lib/core/address.hpp"
#include "lib/core/strings.hpp"
#include "lib/net/control_endpoint_client.hpp"
#include "lib/provisioning/provisioning.hpp"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace zmproxy::ctl {

namespace {

constexpr std::size_t k_at_once = 32;
// Beyond one endpoint's own bound, for a round of them (threads, name lookups).
constexpr std::chrono::milliseconds k_round_margin{2'000};

bool has_service(const provisioning::Entry& server, std::string_view service) {
  const auto* v = server.values("zimbraServiceEnabled");
  return v != nullptr && std::any_of(v->begin(), v->end(), [&](const std::string& s) {
           return core::iequals(s, service);
         });
}

bool lookup_target(const provisioning::Entry& global, const provisioning::Entry& server) {
  const auto* own = server.values("zimbraReverseProxyLookupTarget");
  const std::string v = own != nullptr && !own->empty()
                            ? own->front()
                            : global.first("zimbraReverseProxyLookupTarget");
  return core::iequals(v, "TRUE");
}

unsigned port_of(const std::string& text) {
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && end == text.data() + text.size() && port <= 65535 ? port : 0;
}

FleetAnswer ask_one(const FleetMember& m,
                    FleetRole role,
                    std::string_view command,
                    const FleetAsk& ask) {
  FleetAnswer a{m, false, {}, {}};
  Result<net::ControlReply> reply = fail(Errc::unavailable, "");
  if (m.port == 0) {
    if (m.server != ask.local_server || ask.local_server.empty()) {
      a.error = "no control endpoint; set one with 'zmprov ms " + m.server + " " +
                std::string(control_port_attribute(role)) + " PORT' and restart its daemon";
      return a;
    }
    const auto socket =
        ask.home.run() / (role == FleetRole::proxy ? "zmproxyd.sock" : "zmlookupd.sock");
    reply = net::control_command(socket, command, ask.each);
  } else if (ask.secret.empty()) {
    a.error =
        "zmproxy_control_secret is not set on this host (zmlocalconfig -e "
        "zmproxy_control_secret=...)";
    return a;
  } else {
    reply = net::endpoint_command(m.host, m.port, ask.secret, command, ask.each);
  }
  if (!reply) {
    a.error = reply.error().message;
    return a;
  }
  a.reached = true;
  a.reply = std::move(*reply);
  return a;
}

}  // namespace

std::string_view control_port_attribute(FleetRole role) {
  return role == FleetRole::proxy ? "zmproxyControlPort" : "zmlookupdControlPort";
}

std::vector<FleetMember> fleet_members(const provisioning::Entry& global,
                                       const std::vector<provisioning::Entry>& servers,
                                       FleetRole role) {
  std::vector<FleetMember> out;
  for (const provisioning::Entry& s : servers) {
    const bool member =
        role == FleetRole::proxy ? has_service(s, "proxy") : lookup_target(global, s);
    if (!member) {
      continue;
    }
    FleetMember m;
    m.server = s.first("cn");
    m.host = s.first("zimbraServiceHostname");
    if (m.host.empty()) {
      m.host = m.server;
    }
    m.port = port_of(s.first(control_port_attribute(role)));
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const FleetMember& a, const FleetMember& b) { return a.server < b.server; });
  return out;
}

Result<std::vector<FleetMember>> fleet_members(provisioning::Directory& dir, FleetRole role) {
  provisioning::Provisioning prov(dir, {});
  auto global = prov.get(schema::Kind::global, "");
  if (!global && global.error().code != Errc::not_found) {
    return tl::unexpected(global.error());
  }
  auto servers = prov.list(schema::Kind::server);
  if (!servers) {
    return tl::unexpected(servers.error());
  }
  // A store without a global config entry (a new one) lists its servers alone.
  return fleet_members(global ? *global : provisioning::Entry{}, *servers, role);
}

std::vector<FleetAnswer> ask_fleet(const std::vector<FleetMember>& members,
                                   FleetRole role,
                                   std::string_view command,
                                   const FleetAsk& ask) {
  // A thread a member, each with its own copies; whatever has not answered
  // when a round's time is over (a name lookup that hangs) is reported so,
  // and its thread left to end on its own.
  struct Round {
    std::mutex mutex;
    std::condition_variable done;
    std::vector<std::optional<FleetAnswer>> answers;
    std::size_t left = 0;
  };
  std::vector<FleetAnswer> out;
  out.reserve(members.size());
  for (std::size_t first = 0; first < members.size(); first += k_at_once) {
    const std::size_t last = std::min(members.size(), first + k_at_once);
    auto round = std::make_shared<Round>();
    round->answers.resize(last - first);
    round->left = last - first;
    for (std::size_t i = first; i < last; ++i) {
      std::thread([round, slot = i - first, m = members[i], role, cmd = std::string(command), ask] {
        FleetAnswer a = ask_one(m, role, cmd, ask);
        std::lock_guard lock(round->mutex);
        round->answers[slot] = std::move(a);
        --round->left;
        round->done.notify_all();
      }).detach();
    }
    std::unique_lock lock(round->mutex);
    round->done.wait_for(lock, ask.each + k_round_margin, [&] { return round->left == 0; });
    for (std::size_t i = first; i < last; ++i) {
      if (auto& a = round->answers[i - first]) {
        out.push_back(std::move(*a));
      } else {
        out.push_back(FleetAnswer{members[i],
                                  false,
                                  "no answer within " +
                                      std::to_string((ask.each + k_round_margin).count()) +
                                      " ms (is the host name resolvable?)",
                                  {}});
      }
    }
  }
  return out;
}

std::string fleet_failure(const FleetAnswer& a) {
  if (a.reached && (a.reply.ok || a.reply.json)) {
    return "";
  }
  const std::string at = a.member.port != 0 ? core::format_address(a.member.host, a.member.port)
                                            : std::string("local control socket");
  const std::string why = a.reached ? "refused: " + a.reply.text : a.error;
  if (!a.reached && a.member.port == 0 && a.error.starts_with("no control endpoint")) {
    return a.member.server + ": " + why;
  }
  return a.member.server + " (" + at + "): " + why;
}

std::vector<std::string> flush_fleet(provisioning::Directory& dir, const FleetAsk& ask) {
  std::vector<std::string> failures;
  for (const auto& [role, command] :
       {std::pair{FleetRole::lookup, "FLUSH"}, std::pair{FleetRole::proxy, "FORGET ALL"}}) {
    auto members = fleet_members(dir, role);
    if (!members) {
      failures.push_back("cannot list the servers: " + members.error().message);
      return failures;
    }
    if (members->empty() && role == FleetRole::lookup && !ask.local_server.empty()) {
      // No lookup handler in the store: this host's zmlookupd, as without -a.
      members->push_back(FleetMember{ask.local_server, ask.local_server, 0});
    }
    for (const FleetAnswer& a : ask_fleet(*members, role, command, ask)) {
      if (std::string line = fleet_failure(a); !line.empty()) {
        failures.push_back(std::move(line));
      }
    }
  }
  return failures;
}

}  // namespace zmproxy::ctl

#include "lib/server/listener_plan.hpp"

#include <fmt/format.h>

namespace zmproxy::server {

ListenerPlan plan_listeners(const std::vector<ListenerSpec>& held,
                            const std::vector<ListenerSpec>& wanted) {
  ListenerPlan plan;
  plan.kept.assign(held.size(), false);
  for (const ListenerSpec& spec : wanted) {
    bool found = false;
    for (std::size_t i = 0; i < held.size() && !found; ++i) {
      if (!plan.kept[i] && held[i].same_socket(spec)) {
        plan.kept[i] = true;
        found = true;
      }
    }
    if (found) {
      continue;
    }
    ListenerPlan::Open open{spec, {}};
    for (const ListenerSpec& h : held) {
      if (spec.port != 0 && h.address == spec.address && h.port == spec.port) {
        open.conflict = fmt::format(
            "port {} moves from {} to {} ({}): do it in two reloads (move {} elsewhere first) or "
            "restart",
            spec.port, protocol_name(h.protocol), protocol_name(spec.protocol), spec.attribute,
            protocol_name(h.protocol));
      }
    }
    plan.to_open.push_back(std::move(open));
  }
  return plan;
}

}  // namespace zmproxy::server

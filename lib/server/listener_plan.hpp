#pragma once
// Which listeners a reload keeps, and which it opens (pure; reload.cpp binds
// them). A listener is kept when its protocol, address and port are
// unchanged; a port held for one protocol cannot pass to another in one
// reload (for a moment both would share it through SO_REUSEPORT).

#include "lib/server/generation.hpp"

#include <string>
#include <vector>

namespace zmproxy::server {

struct ListenerPlan {
  std::vector<bool> kept;  // per held listener, in order: still wanted
  struct Open {
    ListenerSpec spec;
    std::string conflict;  // non-empty: why it cannot be opened in this reload
  };
  std::vector<Open> to_open;  // wanted and not held, in the order wanted
};

// `held`: the specs of the listeners open now; `wanted`: listener_specs() of
// the new configuration.
ListenerPlan plan_listeners(const std::vector<ListenerSpec>& held,
                            const std::vector<ListenerSpec>& wanted);

}  // namespace zmproxy::server

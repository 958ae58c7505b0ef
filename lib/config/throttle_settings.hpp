#pragma once
// [throttle] of zmproxy.conf as login throttling's settings: the one
// conversion zmproxyd's gate (lib/proxy/throttle_gate.cpp) and zmproxyctl
// throttle (lib/ctl/throttle_control.cpp) share. Messages become one line of
// at most 200 bytes (a control byte from the directory is a space).
//
// Thread affinity: none (pure).

#include "lib/config/proxy_config.hpp"
#include "lib/core/result.hpp"
#include "lib/throttle/throttle_settings.hpp"

namespace zmproxy::config {

// Errors: Errc::invalid_argument naming throttle.whitelist's bad entry.
Result<throttle::ThrottleSettings> throttle_settings(const ThrottleSection& section);

}  // namespace zmproxy::config

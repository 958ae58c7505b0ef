#pragma once
// The tarpit: how long a (user, client address) pair with failed logins waits
// before its next login attempt goes to the mailbox. Ours, not Zimbra's (whose
// only brake is the 10 s auth wait after a failure and the mailbox's account
// lockout, §2.5): the wait doubles with every failure past the free ones and
// never exceeds `max_delay`, so a typo costs nothing and a password guesser
// gets a few guesses a minute, without locking the real user out.
//
// Thread affinity: none (pure function).

#include <chrono>
#include <cstdint>

namespace zmproxy::throttle {

struct TarpitSettings {
  std::uint64_t free_failures = 3;               // failures that cost no wait
  std::chrono::milliseconds first_delay{1000};   // the wait after the first costly failure
  std::chrono::milliseconds max_delay{30000};    // the bound
};

// 0 for `failures` <= free_failures, then first_delay, 2x, 4x, ... up to max_delay.
std::chrono::milliseconds tarpit_delay(std::uint64_t failures, const TarpitSettings& settings) noexcept;

}  // namespace zmproxy::throttle

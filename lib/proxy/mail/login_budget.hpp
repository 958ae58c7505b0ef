#pragma once
// What a client may spend before it has logged in: a total time from the
// connection's accept (not per read, so one byte every few seconds cannot keep
// a pre-login slot for ever) and a number of commands (NOOP, CAPABILITY, ID,
// invalid ones). Each read waits for the idle timeout or what is left of the
// total, whichever is shorter. Pure; the session passes the clock in.

#include <algorithm>
#include <chrono>

namespace zmproxy::proxy::mail {

class LoginBudget {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr int k_max_commands = 50;

  LoginBudget(std::chrono::milliseconds idle, std::chrono::milliseconds total, Clock::time_point now) noexcept
      : m_idle(idle), m_deadline(now + total) {}

  // How long the next read or write may wait (at least 1 ms, so a passed
  // deadline still gives an operation that times out at once).
  std::chrono::milliseconds wait(Clock::time_point now) const noexcept {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(m_deadline - now);
    return std::max(std::chrono::milliseconds(1), std::min(m_idle, left));
  }

  bool expired(Clock::time_point now) const noexcept { return now >= m_deadline; }

  // Counts one command; false once the client has sent more than allowed.
  bool take_command() noexcept { return ++m_commands <= k_max_commands; }

 private:
  std::chrono::milliseconds m_idle;
  Clock::time_point m_deadline;
  int m_commands = 0;
};

}  // namespace zmproxy::proxy::mail

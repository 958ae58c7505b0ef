#pragma once
// AcceptBackoff: what an accept loop does when accept(2) fails. Out of
// descriptors (EMFILE, ENFILE) or memory (ENOBUFS, ENOMEM), the listening
// socket stays readable and accepting again at once would spin: the loop
// pauses instead, 10 ms at first, doubling up to 1 s while the failures go
// on, and back to no pause after an accept succeeds. Pure; one per loop.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <system_error>

namespace zmproxy::net {

class AcceptBackoff {
 public:
  static constexpr std::chrono::milliseconds k_first{10};
  static constexpr std::chrono::milliseconds k_most{1000};

  // The pause after a failed accept with `error` (an errno value).
  std::chrono::milliseconds after_failure(int error) noexcept {
    if (!is_resource_shortage(error)) {
      m_next = k_first;
      return k_first;  // a peer that reset before accept and the like
    }
    const auto pause = m_next;
    m_next = std::min(m_next * 2, k_most);
    ++m_failures;
    return pause;
  }

  // An accept succeeded: true when failures came before (log the recovery).
  bool after_success() noexcept {
    m_next = k_first;
    const bool recovered = m_failures > 0;
    m_failures = 0;
    return recovered;
  }

  // The first shortage of an episode (log it once, not every retry).
  bool first_failure() const noexcept { return m_failures == 1; }

  static bool is_resource_shortage(int error) noexcept {
    return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
  }

 private:
  std::chrono::milliseconds m_next = k_first;
  unsigned m_failures = 0;
};

}  // namespace zmproxy::net

#pragma once
// ZMPROXY_ASSERT(cond, message): an invariant of the code itself, whose
// breach would be a memory or security bug (an index out of range, a
// generation used before one was published). On a breach it writes one line,
// "zmproxy: invariant broken at file:line: message (cond)", to standard error
// (the daemons' log under systemd or zmproxyctl) and aborts, so the core dump
// shows the place. Compiled in always, NDEBUG or not: the checks are cheap
// and sit off the per-byte paths.
//
// Not for input: bad bytes from a client, a store or a file are expected and
// get a Result, a protocol reply or a log line (ARCHITECTURE.md, "Error
// policy"), never an abort.

#include <cstdio>
#include <cstdlib>

namespace zmproxy::core {

[[noreturn]] inline void invariant_broken(const char* condition, const char* message,
                                          const char* file, int line) noexcept {
  std::fprintf(stderr, "zmproxy: invariant broken at %s:%d: %s (%s)\n", file, line, message,
               condition);
  std::fflush(stderr);
  std::abort();
}

}  // namespace zmproxy::core

#define ZMPROXY_ASSERT(cond, message)                                                 \
  do {                                                                                \
    if (!(cond)) [[unlikely]] {                                                       \
      ::zmproxy::core::invariant_broken(#cond, message, __FILE__, __LINE__);          \
    }                                                                                 \
  } while (false)

#pragma once
// Deadlines for the sessions' socket operations without a timer per
// operation: an operation links a Deadline (living in its coroutine frame)
// into its worker thread's DeadlineSweeper, and one timer per worker, ticking
// every 200 ms while any deadline is pending, cancels the socket of each one
// that passed. Adding and removing are a few pointer writes — no allocation,
// no system call (a per-operation steady_timer costs a timerfd update and,
// raced against the operation with awaitable operators, two coroutine
// threads). Timeouts are therefore accurate to about 200 ms.
//
// One sweeper per io_context (an Asio service of it, destroyed with it); a
// thread finds its context's with one comparison. A context's deadlines are
// added and swept on the one thread that runs it, as in zmproxyd's workers.

#include "lib/net/asio.hpp"

#include <time.h>

#include <chrono>

namespace zmproxy::net {

// The monotonic clock as of the last timer tick (a few milliseconds old):
// plenty for deadlines swept every 200 ms, and it does not read the TSC,
// which is slow in a VM. Same epoch as std::chrono::steady_clock.
inline std::chrono::steady_clock::time_point coarse_now() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::steady_clock::time_point(std::chrono::seconds(ts.tv_sec) +
                                               std::chrono::nanoseconds(ts.tv_nsec));
}

struct Deadline {
  Deadline* prev = nullptr;
  Deadline* next = nullptr;
  std::chrono::steady_clock::time_point at;
  // Called with `target` when `at` passes: a socket's cancel, or another
  // stream's (an HTTP/2 stream's pending read and write: H2Stream,
  // lib/proxy/http/h2_session.hpp).
  void* target = nullptr;
  void (*cancel)(void* target) noexcept = nullptr;
  bool expired = false;
};

class DeadlineSweeper {
 public:
  // The sweeper of `ex`'s io_context (created on first use).
  static DeadlineSweeper& of(const net::asio::any_io_executor& ex);

  void add(Deadline& d);
  // Static: a frame destroyed after its thread's sweeper may still unlink.
  static void remove(Deadline& d) noexcept;

  explicit DeadlineSweeper(const net::asio::any_io_executor& ex);
  ~DeadlineSweeper();
  DeadlineSweeper(const DeadlineSweeper&) = delete;
  DeadlineSweeper& operator=(const DeadlineSweeper&) = delete;

 private:
  void arm();
  void sweep();

  net::asio::steady_timer m_timer;
  Deadline m_head;  // sentinel of a circular list
  bool m_armed = false;
};

// Links a Deadline for the lifetime of one operation.
class DeadlineScope {
 public:
  DeadlineScope(const net::asio::any_io_executor& ex,
                net::tcp::socket& socket,
                std::chrono::milliseconds timeout)
      : DeadlineScope(ex, &socket, &cancel_socket, timeout) {}
  DeadlineScope(const net::asio::any_io_executor& ex,
                void* target,
                void (*cancel)(void* target) noexcept,
                std::chrono::milliseconds timeout) {
    m_deadline.at = coarse_now() + timeout;
    m_deadline.target = target;
    m_deadline.cancel = cancel;
    DeadlineSweeper::of(ex).add(m_deadline);
  }
  ~DeadlineScope() { DeadlineSweeper::remove(m_deadline); }
  DeadlineScope(const DeadlineScope&) = delete;
  DeadlineScope& operator=(const DeadlineScope&) = delete;

  bool expired() const { return m_deadline.expired; }

 private:
  static void cancel_socket(void* socket) noexcept {
    boost::system::error_code ignored;
    static_cast<net::tcp::socket*>(socket)->cancel(ignored);
  }

  Deadline m_deadline;
};

}  // namespace zmproxy::net

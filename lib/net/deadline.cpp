#include "lib/net/deadline.hpp"

#include <memory>

namespace zmproxy::net {

namespace {

constexpr auto k_tick = std::chrono::milliseconds(200);

// The sweeper of one io_context, kept as one of its services: destroyed with
// the context (its shutdown runs before the scheduler's, whose destruction of
// pending coroutine frames then finds every deadline unlinked), so a thread
// that serves several contexts in turn (the unit tests' main thread) never
// ticks a timer of a context that is gone.
class SweeperService : public net::asio::execution_context::service {
 public:
  using key_type = SweeperService;
  static inline net::asio::execution_context::id id;

  explicit SweeperService(net::asio::execution_context& ctx) : service(ctx) {}

  DeadlineSweeper& get(const net::asio::any_io_executor& ex) {
    if (!m_sweeper) {
      m_sweeper = std::make_unique<DeadlineSweeper>(ex);
    }
    return *m_sweeper;
  }

 private:
  void shutdown() override;

  std::unique_ptr<DeadlineSweeper> m_sweeper;
};

// The calling thread's last context and its sweeper: one comparison per
// operation instead of Asio's locked service lookup.
struct ThreadCache {
  const net::asio::execution_context* context = nullptr;
  DeadlineSweeper* sweeper = nullptr;
};
thread_local ThreadCache t_cache;

void SweeperService::shutdown() {
  if (t_cache.sweeper == m_sweeper.get()) {
    t_cache = {};
  }
  m_sweeper.reset();
}

}  // namespace

DeadlineSweeper& DeadlineSweeper::of(const net::asio::any_io_executor& ex) {
  net::asio::execution_context& ctx = net::asio::query(ex, net::asio::execution::context);
  if (t_cache.context != &ctx || t_cache.sweeper == nullptr) {
    t_cache.sweeper = &net::asio::use_service<SweeperService>(ctx).get(ex);
    t_cache.context = &ctx;
  }
  return *t_cache.sweeper;
}

DeadlineSweeper::DeadlineSweeper(const net::asio::any_io_executor& ex) : m_timer(ex) {
  m_head.prev = m_head.next = &m_head;
}

DeadlineSweeper::~DeadlineSweeper() {
  // Deadlines still linked belong to coroutines being destroyed with their
  // io_context; unlink them so nobody walks into freed memory.
  for (Deadline* d = m_head.next; d != &m_head;) {
    Deadline* next = d->next;
    d->prev = d->next = nullptr;
    d = next;
  }
  m_head.prev = m_head.next = &m_head;
}

void DeadlineSweeper::add(Deadline& d) {
  d.expired = false;
  d.prev = m_head.prev;
  d.next = &m_head;
  m_head.prev->next = &d;
  m_head.prev = &d;
  arm();
}

void DeadlineSweeper::remove(Deadline& d) noexcept {
  if (d.prev != nullptr) {
    d.prev->next = d.next;
    d.next->prev = d.prev;
    d.prev = d.next = nullptr;
  }
}

void DeadlineSweeper::arm() {
  if (m_armed) {
    return;
  }
  m_armed = true;
  m_timer.expires_after(k_tick);
  m_timer.async_wait([this](boost::system::error_code ec) {
    m_armed = false;
    if (!ec) {
      sweep();
    }
  });
}

void DeadlineSweeper::sweep() {
  const auto now = std::chrono::steady_clock::now();
  for (Deadline* d = m_head.next; d != &m_head; d = d->next) {
    if (!d->expired && d->at <= now) {
      d->expired = true;
      d->cancel(d->target);
    }
  }
  if (m_head.next != &m_head) {
    arm();
  }
}

}  // namespace zmproxy::net

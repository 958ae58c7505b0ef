#include "lib/net/deadline.hpp"

#include <memory>

namespace zmproxy::net {

namespace {

constexpr auto k_tick = std::chrono::milliseconds(200);

}  // namespace

DeadlineSweeper& DeadlineSweeper::of_this_thread(const net::asio::any_io_executor& ex) {
  thread_local std::unique_ptr<DeadlineSweeper> sweeper;
  if (!sweeper) {
    sweeper = std::make_unique<DeadlineSweeper>(ex);
  }
  return *sweeper;
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

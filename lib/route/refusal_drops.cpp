#include "lib/route/refusal_drops.hpp"

#include "lib/core/strings.hpp"

namespace zmproxy::route {

RefusalDrops::RefusalDrops(std::chrono::seconds interval, std::size_t capacity)
    : m_interval(interval), m_capacity(capacity) {}

bool RefusalDrops::allow(std::string_view user, Clock::time_point now) {
  std::string name = core::to_lower(user);
  std::lock_guard lock(m_mutex);
  if (const auto found = m_next.find(name); found != m_next.end()) {
    if (now < found->second) {
      return false;
    }
    found->second = now + m_interval;
    return true;
  }
  if (m_next.size() >= m_capacity) {
    std::erase_if(m_next, [now](const auto& e) { return e.second <= now; });
    if (m_next.size() >= m_capacity) {
      return false;
    }
  }
  m_next.emplace(std::move(name), now + m_interval);
  return true;
}

std::size_t RefusalDrops::size() const {
  std::lock_guard lock(m_mutex);
  return m_next.size();
}

}  // namespace zmproxy::route

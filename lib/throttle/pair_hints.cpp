#include "lib/throttle/pair_hints.hpp"

namespace zmproxy::throttle {

std::uint64_t PairHints::key(std::string_view user, std::string_view address) noexcept {
  std::uint64_t h = 14695981039346656037ULL;
  const auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (char c : user) {
    mix(static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  }
  mix(0);
  for (char c : address) {
    mix(static_cast<unsigned char>(c));
  }
  return h;
}

bool PairHints::suspect(std::string_view user,
                        std::string_view address,
                        Clock::time_point now) const {
  const std::uint64_t k = key(user, address);
  const std::lock_guard<std::mutex> lock(m_mutex);
  const auto it = m_until.find(k);
  return it != m_until.end() && it->second > now;
}

void PairHints::note_failure(std::string_view user,
                             std::string_view address,
                             Clock::time_point until) {
  const std::uint64_t k = key(user, address);
  const std::lock_guard<std::mutex> lock(m_mutex);
  if (m_until.size() >= m_capacity && m_until.find(k) == m_until.end()) {
    const Clock::time_point now = Clock::now();
    std::erase_if(m_until, [now](const auto& entry) { return entry.second <= now; });
    if (m_until.size() >= m_capacity) {
      m_until.erase(m_until.begin());
    }
  }
  m_until[k] = until;
}

void PairHints::forget(std::string_view user, std::string_view address) {
  const std::uint64_t k = key(user, address);
  const std::lock_guard<std::mutex> lock(m_mutex);
  m_until.erase(k);
}

std::size_t PairHints::size() const {
  const std::lock_guard<std::mutex> lock(m_mutex);
  return m_until.size();
}

}  // namespace zmproxy::throttle

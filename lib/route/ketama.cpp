#include "lib/route/ketama.hpp"

#include <algorithm>
#include <string>

namespace zmproxy::route {

std::uint32_t one_at_a_time_hash(std::string_view bytes) noexcept {
  std::uint32_t value = 0;
  for (const char ch : bytes) {
    // libhashkit adds (uint32_t)*ptr with ptr a const char*: a byte >= 0x80
    // is sign-extended, as here.
    value += static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<signed char>(ch)));
    value += value << 10;
    value ^= value >> 6;
  }
  value += value << 3;
  value ^= value >> 11;
  value += value << 15;
  return value;
}

KetamaContinuum::KetamaContinuum(const std::vector<MemcachedServer>& servers)
    : m_servers(servers.size()) {
  if (m_servers < 2) {
    return;
  }
  m_points.reserve(m_servers * k_points_per_server);
  std::string name;
  for (std::size_t s = 0; s < servers.size(); ++s) {
    std::string prefix = servers[s].host;
    if (servers[s].port != 11211) {
      prefix += ':' + std::to_string(servers[s].port);
    }
    prefix += '-';
    for (std::size_t i = 0; i < k_points_per_server; ++i) {
      name = prefix;
      name += std::to_string(i);
      m_points.push_back(Point{one_at_a_time_hash(name), static_cast<std::uint32_t>(s)});
    }
  }
  std::stable_sort(m_points.begin(), m_points.end(),
                   [](const Point& a, const Point& b) { return a.value < b.value; });
}

std::size_t KetamaContinuum::server_for(std::string_view key) const noexcept {
  if (m_points.empty()) {
    return 0;
  }
  const std::uint32_t hash = one_at_a_time_hash(key);
  auto it = std::lower_bound(m_points.begin(), m_points.end(), hash,
                             [](const Point& p, std::uint32_t h) { return p.value < h; });
  if (it == m_points.end()) {
    it = m_points.begin();
  }
  return it->server;
}

}  // namespace zmproxy::route

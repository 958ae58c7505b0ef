#include "lib/route/route_index_names.hpp"

#include "lib/core/strings.hpp"

namespace zmproxy::route {

std::uint64_t NameTable::hash(std::string_view name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : name) {
    h ^= static_cast<unsigned char>(core::ascii_lower(c));
    h *= 0x100000001b3ULL;
  }
  return h;
}

void NameTable::add(std::string_view name, std::uint32_t position) {
  if (name.empty()) {
    return;
  }
  if ((m_used + 1) * 2 > m_slots.size()) {
    grow();
  }
  const std::uint64_t h = hash(name);
  const std::size_t mask = m_slots.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
    Slot& s = m_slots[i];
    if (s.name.empty()) {
      s = Slot{name, h, position};
      ++m_used;
      return;
    }
    if (s.hash == h && core::iequals(s.name, name)) {
      return;  // the first one added wins
    }
  }
}

const std::uint32_t* NameTable::find(std::string_view name) const noexcept {
  if (name.empty() || m_slots.empty()) {
    return nullptr;
  }
  const std::uint64_t h = hash(name);
  const std::size_t mask = m_slots.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
    const Slot& s = m_slots[i];
    if (s.name.empty()) {
      return nullptr;
    }
    if (s.hash == h && s.name.size() == name.size() && (s.name == name || core::iequals(s.name, name))) {
      return &s.position;
    }
  }
}

void NameTable::grow() {
  std::vector<Slot> old = std::move(m_slots);
  m_slots.assign(old.empty() ? 16 : old.size() * 2, Slot{});
  const std::size_t mask = m_slots.size() - 1;
  for (const Slot& s : old) {
    if (s.name.empty()) {
      continue;
    }
    std::size_t i = static_cast<std::size_t>(s.hash) & mask;
    while (!m_slots[i].name.empty()) {
      i = (i + 1) & mask;
    }
    m_slots[i] = s;
  }
}

}  // namespace zmproxy::route

#pragma once
// NameTable: RouteIndex's table from a name (an address, alias, zimbraId,
// domain or host name) to an entry's position, found without regard to ASCII
// case and without copying or lower-casing the name asked for. Open
// addressing over views of strings the index keeps alive (its entries'
// values); the first position added under a name wins, and "" is never a
// name. Built once per index, then read-only (thread-safe to read). Pure.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace zmproxy::route {

class NameTable {
 public:
  // `name` must outlive the table; a name already there keeps its position.
  void add(std::string_view name, std::uint32_t position);
  // The position of `name` (any ASCII case), or nullptr.
  const std::uint32_t* find(std::string_view name) const noexcept;
  std::size_t size() const noexcept { return m_used; }

  // The hash both sides use: FNV-1a over the ASCII-lower-cased bytes.
  static std::uint64_t hash(std::string_view name) noexcept;

 private:
  struct Slot {
    std::string_view name;  // empty: a free slot
    std::uint64_t hash = 0;
    std::uint32_t position = 0;
  };
  void grow();

  std::vector<Slot> m_slots;  // a power of two in size, at most half used
  std::size_t m_used = 0;
};

}  // namespace zmproxy::route

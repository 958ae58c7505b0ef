#pragma once
// Header field storage for one web connection's messages: a bump allocator
// over a block the connection owns, emptied when a request is done; past the
// block, the heap. A parsed header costs no allocation per field (Beast's
// basic_fields allocates a node for each). Standard library only.
//
// Thread affinity: one connection's (not thread-safe).

#include <cstddef>
#include <new>

namespace zmproxy::proxy::http {

class HeaderArena {
 public:
  HeaderArena() noexcept {}  // user-provided: the block is not zero-filled  // NOLINT(modernize-use-equals-default)
  HeaderArena(const HeaderArena&) = delete;
  HeaderArena& operator=(const HeaderArena&) = delete;

  void* allocate(std::size_t n, std::size_t align) {
    const std::size_t at = (m_used + align - 1) & ~(align - 1);
    if (at + n <= sizeof m_block) {
      m_used = at + n;
      return m_block + at;
    }
    return ::operator new(n);
  }
  void deallocate(void* p) noexcept {
    const auto* c = static_cast<const char*>(p);
    if (c < m_block || c >= m_block + sizeof m_block) {
      ::operator delete(p);
    }
  }
  // Only once nothing allocated here is alive.
  void reset() noexcept { m_used = 0; }

 private:
  alignas(std::max_align_t) char m_block[4096];
  std::size_t m_used = 0;
};

// The standard allocator interface over a HeaderArena (what Beast's
// basic_fields takes).
template <class T>
class HeaderArenaAllocator {
 public:
  using value_type = T;
  explicit HeaderArenaAllocator(HeaderArena& a) noexcept : m_arena(&a) {}
  template <class U>
  HeaderArenaAllocator(const HeaderArenaAllocator<U>& o) noexcept : m_arena(o.arena()) {}  // NOLINT: rebinding
  T* allocate(std::size_t n) { return static_cast<T*>(m_arena->allocate(n * sizeof(T), alignof(T))); }
  void deallocate(T* p, std::size_t) noexcept { m_arena->deallocate(p); }
  HeaderArena* arena() const noexcept { return m_arena; }
  friend bool operator==(const HeaderArenaAllocator& a, const HeaderArenaAllocator& b) noexcept {
    return a.m_arena == b.m_arena;
  }
  friend bool operator!=(const HeaderArenaAllocator& a, const HeaderArenaAllocator& b) noexcept {
    return !(a == b);
  }

 private:
  HeaderArena* m_arena;
};

}  // namespace zmproxy::proxy::http

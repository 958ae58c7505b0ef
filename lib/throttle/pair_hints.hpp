#pragma once
// PairHints: the (user, client address) pairs this proxy saw fail a login
// lately, so that login throttling reads a pair's failure count in memcached
// only for those (ThrottleGate). A clean login of a pair never seen failing
// costs no round trip; a guesser's pair is known after its first failure
// here, and from then on every attempt through this proxy waits the fleet's
// tarpit. (Through N proxies a guesser gets at most one attempt per proxy
// before the hint exists; the fleet's count still grows with each.)
//
// Pairs are kept by a 64-bit hash of the lower-cased user and the address: a
// collision only makes one more read. Bounded: at most `capacity` pairs;
// when full, the expired ones go, and if none has expired an arbitrary one.
//
// Thread affinity: thread-safe (one mutex; held for a hash lookup).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace zmproxy::throttle {

class PairHints {
 public:
  using Clock = std::chrono::steady_clock;

  explicit PairHints(std::size_t capacity = 65536) : m_capacity(capacity == 0 ? 1 : capacity) {}

  // Did the pair fail here, and is that note still good at `now`?
  bool suspect(std::string_view user, std::string_view address, Clock::time_point now) const;
  // The pair failed (or was read with failures): suspect it until `until`.
  void note_failure(std::string_view user, std::string_view address, Clock::time_point until);
  // The pair logged in: its failures were forgiven.
  void forget(std::string_view user, std::string_view address);

  std::size_t size() const;

  // FNV-1a over the ASCII-lower-cased user, a NUL, and the address.
  static std::uint64_t key(std::string_view user, std::string_view address) noexcept;

 private:
  const std::size_t m_capacity;
  mutable std::mutex m_mutex;
  std::unordered_map<std::uint64_t, Clock::time_point> m_until;
};

}  // namespace zmproxy::throttle

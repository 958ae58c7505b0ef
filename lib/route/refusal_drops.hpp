#pragma once
// RefusalDrops: whether a login the mailbox refused may drop the user's
// cached route (RouteResolver::forget_refused). A refusal may mean "this
// user is not here" (a stale route after a mailbox move), or only a wrong
// password: dropping on each one would let a password guesser cost a lookup
// per guess. So a user's route is dropped at most once per `interval`;
// between two drops the route is the one the lookup just gave, or one that
// was read again after the last drop.
//
// Bounds: at most `capacity` users remembered; when full, the expired ones
// are swept, and if none is, the refusal drops nothing (the route then goes
// by its TTL, or zmlookupd's purge).
//
// Thread affinity: thread-safe (one mutex).

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace zmproxy::route {

class RefusalDrops {
 public:
  using Clock = std::chrono::steady_clock;

  RefusalDrops(std::chrono::seconds interval, std::size_t capacity);

  // True (and remembered) when `user`'s route may be dropped now.
  bool allow(std::string_view user, Clock::time_point now = Clock::now());
  std::size_t size() const;

 private:
  const std::chrono::seconds m_interval;
  const std::size_t m_capacity;
  mutable std::mutex m_mutex;
  std::unordered_map<std::string, Clock::time_point> m_next;  // lower-cased user -> next allowed drop
};

}  // namespace zmproxy::route

#pragma once
// LoginThrottle: the throttling decisions of one login, over the fleet's
// shared counters (CounterStore). Zimbra's rules (REFERENCE-zimbra §2.5,
// §8.1, §8.3), in Zimbra's order:
//  - on_connection, at accept, before the greeting: whitelisted addresses
//    pass untouched; else the address's per-protocol counter goes up by one
//    and the connection is refused past the limit (the IMAP/POP3 limit and
//    window when that limit is non-zero, else the global ones). Zimbra's
//    newest module takes the protocol's window even under the global limit,
//    so "IPLoginLimit 5, -LimitTime 60" counts IMAP for the IMAP default of
//    3600 s; here the window is the one set beside the limit that applies.
//  - before_login: the user counter is read, not counted; refused when it is
//    already past the limit.
//  - after_login_success: the user counter goes up by one (successful logins
//    only; a wrong password never counts); refused past the limit, and the
//    caller closes the mailbox connection it just opened.
// Ours, on top: failed logins per (user, address) pair. after_login_failure
// counts one. before_login reads the pair's count when the caller suspects
// the pair (it saw it fail; ThrottleGate keeps those hints) or a lock is
// set, and answers the tarpit's wait before the attempt goes on (a guesser
// cannot learn the verdict sooner by hanging up), or a refusal from
// failed_lock_after on. A suspected pair under a lock is counted before the
// attempt (incr, not get): parallel attempts each see the others, so no
// more than failed_lock_after attempts get through; a failure of such an
// attempt is not counted twice. A success clears the pair it read. A pair
// neither suspected nor under a lock is not read: a clean login costs no
// round trip.
//
// Fail open: when the store is down every check allows. A Decision's notice
// says when the store went away (or came back) as seen by this object, once
// per change, so the caller logs "throttling is off" once, not per login.
//
// Thread affinity: thread-safe (the settings are const, the notice flag is
// atomic); it blocks as long as its store does (offload pool, never an I/O
// thread).

#include "lib/throttle/counter_store.hpp"
#include "lib/throttle/throttle_keys.hpp"
#include "lib/throttle/throttle_settings.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace zmproxy::throttle {

enum class Verdict { allow, refuse };
enum class Reason { none, ip_limit, user_limit, failed_logins };
// A change of the store's state this Decision is the first to see.
enum class StoreNotice { none, throttling_off, throttling_on };

struct Decision {
  Verdict verdict = Verdict::allow;
  Reason reason = Reason::none;
  std::uint64_t count = 0;                  // the counter the verdict was made on
  std::uint64_t limit = 0;                  // and its limit (0: none applied)
  // before_login: wait this long before the attempt goes on (the tarpit).
  std::chrono::milliseconds delay{0};
  // refuse: the counter's window, an upper bound.
  std::chrono::seconds retry_after{0};
  // The pair's failures (before_login: when it read them).
  std::uint64_t failed_logins = 0;
  // before_login counted this attempt already (a suspected pair under a lock).
  bool reserved = false;
  // Log once: throttling off / on again.
  StoreNotice notice = StoreNotice::none;

  bool allowed() const noexcept { return verdict == Verdict::allow; }
};

class LoginThrottle {
 public:
  // `store` must outlive this object.
  LoginThrottle(ThrottleSettings settings, CounterStore& store);

  Decision on_connection(MailProtocol protocol, std::string_view address);
  Decision before_login(std::string_view qualified_user,
                        std::string_view address,
                        bool suspect = false);
  // `before` is what before_login answered for this login.
  Decision after_login_success(std::string_view qualified_user, std::string_view address,
                               const Decision& before);
  Decision after_login_failure(std::string_view qualified_user,
                               std::string_view address,
                               const Decision& before = Decision{});

  // Deletes one counter (a key of throttle_keys.hpp): lifts that block.
  // False when the store is down.
  bool clear(std::string_view key);

  const ThrottleSettings& settings() const noexcept { return m_settings; }

 private:
  // Notes whether the store answered; the notice for the Decision.
  StoreNotice note_store(bool answered) noexcept;

  const ThrottleSettings m_settings;
  CounterStore& m_store;
  std::atomic<bool> m_store_down{false};
};

// "ip-limit", "user-limit", "failed-logins" ("" for none): the access log's
// "throttled:<reason>".
const char* reason_name(Reason reason) noexcept;

// The limit and window on_connection applies to `protocol`.
IpLimit ip_limit_for(const ThrottleSettings& settings, MailProtocol protocol) noexcept;

}  // namespace zmproxy::throttle

#pragma once
// ThrottleGate: login throttling as the sessions see it (IMAP, POP3, web).
// It owns the throttle's memcached client and a small pool of threads for
// its blocking calls, and answers lib/throttle's decisions (LoginThrottle)
// as awaitables, so a worker never blocks on memcached. One per
// configuration generation, carried over while [throttle] and the memcached
// servers stay the same (lib/server/generation.cpp).
//
// What costs nothing: a check with nothing to decide (its limit off, a
// whitelisted address, a login without a user limit or failed-login lock
// of a pair this proxy has not seen fail, a success after no failure read)
// answers on the caller's thread without a hop to the pool. By default
// (failed logins counted, no lock, Zimbra's limits off) a failed login, and
// every later attempt of its pair (the tarpit's read), go to memcached;
// clean logins do not. The pairs seen failing are throttle::PairHints. With
// no memcached servers configured there is no gate at all
// (Generation::throttle is null).
//
// Fail open: memcached unreachable, or more than k_max_pending calls
// waiting for the pool (each waits at most route.memcached_timeout, so a
// check waits at most k_max_pending / 2 times that), and the check allows.
// The first answer after the store goes away (or comes back), and the first
// check let through unasked, are logged once.
//
// User names in the keys are the login as the client typed it (suffixes
// like /tb stripped), lower-cased: "Alice" and "alice" count together.
//
// Thread affinity: thread-safe; the awaitables resume on the caller's
// executor.

#include "lib/config/proxy_config.hpp"
#include "lib/core/result.hpp"
#include "lib/net/asio.hpp"
#include "lib/throttle/login_throttle.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace zmproxy::proxy {

// Zimbra's user limit counts mail logins; a web login counts only its failures.
enum class LoginKind { mail, web };

class ThrottleGate {
 public:
  // Calls waiting for the pool at most; more are let through uncounted.
  static constexpr std::uint64_t k_max_pending = 64;

  // Null (no gate) when no memcached is configured. Errors name the
  // setting (a whitelist entry, a memcached server).
  static Result<std::shared_ptr<ThrottleGate>> create(const config::ProxyConfig& config);
  // Whether a gate built from `previous` serves `next` unchanged.
  static bool same_settings(const config::ProxyConfig& previous, const config::ProxyConfig& next);

  ~ThrottleGate();
  ThrottleGate(const ThrottleGate&) = delete;
  ThrottleGate& operator=(const ThrottleGate&) = delete;

  const throttle::ThrottleSettings& settings() const noexcept;

  // At accept (after the TLS handshake of IMAPS/POP3S), before the greeting.
  // `client_ip` as SessionInfo holds it.
  net::asio::awaitable<throttle::Decision> on_connection(throttle::MailProtocol protocol,
                                                         std::string client_ip);
  // Before the login goes to the route lookup and the mailbox: the user
  // limit (read only; mail logins only, as Zimbra's) and the pair's failures
  // when this proxy suspects the pair or throttle.failed_lock is set (the
  // tarpit's wait in the Decision's delay, or a refusal from the lock on).
  net::asio::awaitable<throttle::Decision> before_login(LoginKind kind,
                                                        std::string user,
                                                        std::string client_ip);
  net::asio::awaitable<throttle::Decision> after_login_success(LoginKind kind,
                                                               std::string user,
                                                               std::string client_ip,
                                                               throttle::Decision before);
  // The failure counted (unless before_login counted the attempt already),
  // and the pair suspected from now on by this proxy.
  net::asio::awaitable<throttle::Decision> after_login_failure(std::string user,
                                                               std::string client_ip,
                                                               throttle::Decision before);

  // Checks let through because the pool was full (STATUS).
  std::uint64_t dropped() const noexcept;
  // Checks waiting for the pool now (at most k_max_pending).
  std::uint64_t waiting() const noexcept;

  struct Impl;

 private:
  explicit ThrottleGate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace zmproxy::proxy

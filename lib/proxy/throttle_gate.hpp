#pragma once
// ThrottleGate: login throttling as the sessions see it (IMAP, POP3, web).
// It owns the throttle's memcached client and a small pool of threads for
// its blocking calls, and answers lib/throttle's decisions (LoginThrottle)
// as awaitables, so a worker never blocks on memcached. One per
// configuration generation, carried over while [throttle] and the memcached
// servers stay the same (lib/server/generation.cpp).
//
// What costs nothing: a check with nothing to decide (its limit off, a
// whitelisted address, a login without a user limit or failed-login lock, a
// success after no failure read) answers on the caller's thread without a
// hop to the pool. By default (failed logins counted, no lock, Zimbra's
// limits off) only a failed login goes to memcached. With no memcached servers
// configured there is no gate at all (Generation::throttle is null).
//
// Fail open: memcached unreachable, or more than k_max_pending calls
// waiting for the pool, and the check allows. The first answer after the
// store goes away (or comes back) is logged, once, by the gate.
//
// User names in the keys are the login as the client typed it (suffixes
// like /tb stripped), lower-cased: "Alice" and "alice" count together.
//
// Thread affinity: thread-safe; the awaitables resume on the caller's
// executor.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lib/config/proxy_config.hpp"
#include "lib/core/result.hpp"
#include "lib/net/asio.hpp"
#include "lib/throttle/login_throttle.hpp"

namespace zmproxy::proxy {

// Zimbra's user limit counts mail logins; a web login counts only its failures.
enum class LoginKind { mail, web };

class ThrottleGate {
 public:
  // Calls waiting for the pool at most; more are let through uncounted.
  static constexpr std::uint64_t k_max_pending = 1024;

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
  // limit (read only; mail logins only, as Zimbra's) and, with
  // throttle.failed_lock, the pair's failures (a refusal from the lock on).
  net::asio::awaitable<throttle::Decision> before_login(LoginKind kind, std::string user, std::string client_ip);
  net::asio::awaitable<throttle::Decision> after_login_success(LoginKind kind, std::string user,
                                                               std::string client_ip, throttle::Decision before);
  // The failure counted; its delay is the tarpit's wait before the client
  // is told.
  net::asio::awaitable<throttle::Decision> after_login_failure(std::string user, std::string client_ip);

  // Checks let through because the pool was full (STATUS).
  std::uint64_t dropped() const noexcept;

  struct Impl;

 private:
  explicit ThrottleGate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace zmproxy::proxy

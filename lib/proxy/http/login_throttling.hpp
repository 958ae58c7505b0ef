#pragma once
// The failed-login throttle around a web login (ThrottleGate,
// LoginKind::web: failures per user and client address; Zimbra's per-user
// limit never counts web requests). A request that logs in (login_user.hpp)
// is checked before it is forwarded (check_login, in serve_request), and
// counted by the mailbox's status (count_login, in exchange.hpp) as soon as
// that status is known and before the client sees any of the answer: the
// client's next attempt, on whatever connection, finds its failure counted.
// Included by session.cpp only (see message_io.hpp).
//
// GCC 12: every awaitable is named before co_await (mail/session_driver.hpp).
//
// Thread affinity: the connection's worker.

#include "lib/net/stream_io.hpp"
#include "lib/proxy/http/client_connection.hpp"
#include "lib/proxy/http/message_io.hpp"
#include "lib/proxy/throttle_gate.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace zmproxy::proxy::http {

// Before a login (c.login) is forwarded: the pair past throttle.failed_lock
// is refused here, 429 with Retry-After and the mailbox not asked (the
// answer: whether the connection stays open); else the tarpit's wait is
// waited and nullopt says "forward it". A pair this proxy has not seen fail,
// without a lock, is answered at once, without memcached.
template <class Client>
asio::awaitable<std::optional<bool>> check_login(ClientConnection& c,
                                                 Client& client,
                                                 RequestParser& rp,
                                                 ThrottleGate& gate) {
  std::string name = c.login.user;
  std::string ip = c.login.address;
  asio::awaitable<throttle::Decision> check =
      gate.before_login(LoginKind::web, std::move(name), std::move(ip));
  c.login.before = co_await std::move(check);
  const throttle::Decision& d = c.login.before;
  if (!d.allowed()) {
    c.login.pending = false;
    c.counters.throttled++;
    c.info.outcome = std::string("throttled:") + throttle::reason_name(d.reason);
    c.info.detail = c.info.outcome;
    std::vector<std::pair<std::string, std::string>> retry;
    retry.emplace_back("Retry-After",
                       std::to_string(std::max<std::int64_t>(d.retry_after.count(), 1)));
    const auto& req = rp.get();
    co_return co_await send_simple(
        c, client, req.version(), bhttp::status::too_many_requests,
        "Too many failed logins for this account from this address; try again later.",
        rp.is_done() && req.keep_alive(), retry);
  }
  if (d.delay.count() > 0) {
    c.info.detail = "tarpit=" + std::to_string(d.delay.count()) + "ms";
    co_await net::pause_for(d.delay);
  }
  co_return std::nullopt;
}

// The mailbox answered a login (c.status): 401 counts a failure against the
// pair; a 2xx/3xx where that proves the credentials (c.login.proves)
// clears the pair's failures (when before_login read some); anything else
// neither. Once per login; nothing when the request is no login.
inline asio::awaitable<void> count_login(ClientConnection& c) {
  ThrottleGate* gate = c.shared->throttle.get();
  if (!c.login.pending || gate == nullptr) {
    co_return;
  }
  c.login.pending = false;
  std::string name = c.login.user;
  std::string ip = c.login.address;
  if (c.status == 401) {
    asio::awaitable<throttle::Decision> count =
        gate->after_login_failure(std::move(name), std::move(ip), c.login.before);
    co_await std::move(count);
  } else if (c.status >= 200 && c.status < 400 && c.login.proves) {
    asio::awaitable<throttle::Decision> count =
        gate->after_login_success(LoginKind::web, std::move(name), std::move(ip), c.login.before);
    co_await std::move(count);
  }
}

}  // namespace zmproxy::proxy::http

#pragma once
// ThrottleSettings: the limits login throttling applies, one field per
// attribute of REFERENCE-zimbra §3 E (defaults as Zimbra's: every limit 0,
// off) followed by ours, the failed-login counter. Plain data; whoever reads
// the configuration fills it (the wiring is not in this folder).
//
// Thread affinity: none (a value; share it const).

#include "lib/throttle/ip_whitelist.hpp"
#include "lib/throttle/tarpit.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace zmproxy::throttle {

struct IpLimit {
  std::uint64_t limit = 0;             // connections per window; 0 = off
  std::chrono::seconds window{3600};   // the counter's TTL, fixed from the first hit
};

struct ThrottleSettings {
  IpLimit ip;    // zimbraReverseProxyIPLoginLimit, -LimitTime
  IpLimit imap;  // zimbraReverseProxyIPLoginImapLimit, -ImapLimitTime
  IpLimit pop3;  // zimbraReverseProxyIPLoginPop3Limit, -Pop3LimitTime
  std::uint64_t user_limit = 0;                // zimbraReverseProxyUserLoginLimit; 0 = off
  std::chrono::seconds user_window{3600};      // zimbraReverseProxyUserLoginLimitTime
  IpWhitelist whitelist;                       // zimbraReverseProxyIPThrottleWhitelist
  std::string ip_message = "Login rejected from this IP";     // zimbraReverseProxyIpThrottleMsg
  std::string user_message = "Login rejected for this user";  // zimbraReverseProxyUserThrottleMsg

  // Ours: failed logins per (user, client address), under zmproxy: keys.
  bool count_failed_logins = false;            // off: no store call for them at all
  std::chrono::seconds failed_window{900};     // the failure counter's TTL
  TarpitSettings tarpit;                       // the wait before each further attempt
  std::uint64_t failed_lock_after = 0;         // refuse outright from this many; 0 = never (tarpit only)
};

}  // namespace zmproxy::throttle

#pragma once
// What `zmproxyctl throttle` shows: one row per throttle counter found on a
// memcached server, judged against this proxy's limits, sorted, as an
// aligned table or JSON; and which counters an address, a CIDR block or a
// user names (show, clear). Pure; the verbs are throttle_control.hpp.
//
// States: "blocked" when an address or user counter has reached its limit
// (the next connection or login is refused: the counter goes past the
// limit), "locked" when a failed-login pair has reached throttle.failed_lock,
// "tarpit" when the pair's next failure waits before it is told
// (lib/throttle/tarpit.hpp),
// "whitelisted" for a cached whitelist verdict of 1, else none ("-").
//
// Names and addresses come from keys anyone who can log in chooses; every
// byte that is not printable UTF-8 (controls, DEL, C1 controls, broken
// sequences) is shown as %XX, so no output can steer a terminal and the JSON
// is valid UTF-8.
//
// Thread affinity: none (pure functions).

#include "lib/net/address_block.hpp"
#include "lib/throttle/throttle_keys.hpp"
#include "lib/throttle/throttle_settings.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zmproxy::ctl {

enum class RowState { none, blocked, locked, tarpit, whitelisted };

struct ThrottleRow {
  throttle::ParsedKey parsed;
  std::string server;                      // "host:port" of the memcached that holds it
  std::string key;                         // the memcached key
  std::optional<std::uint64_t> count;      // nullopt: the value is not a decimal count
  std::optional<std::int64_t> expires_in;  // seconds; -1: never; nullopt: unknown
  std::uint64_t limit = 0;                 // 0: no limit applies
  RowState state = RowState::none;
  std::chrono::milliseconds delay{0};  // RowState::tarpit: the next failure's wait
};

// A memcached value as a count: decimal digits, trailing spaces allowed
// (memcached pads a value that shrank); nullopt otherwise.
std::optional<std::uint64_t> parse_count(std::string_view value);

// Fills limit, state and delay from `settings`.
void judge(ThrottleRow& row, const throttle::ThrottleSettings& settings);

// Blocked and locked first, then the tarpits, then by count, largest first.
void sort_rows(std::vector<ThrottleRow>& rows);

// "ip/imap", "ip/pop3", "user", "failed-logins", "whitelist-verdict".
std::string kind_name(const throttle::ParsedKey& key);
// The address, the user, or "user from address".
std::string who(const throttle::ParsedKey& key);
// "blocked", "locked", "tarpit 4s", "whitelisted", "-".
std::string state_text(const ThrottleRow& row);
// `text` with every byte that is not printable UTF-8 as %XX.
std::string printable(std::string_view text);

// The table (a header line, then one line per row) and the JSON array.
std::string rows_text(const std::vector<ThrottleRow>& rows);
std::string rows_json(const std::vector<ThrottleRow>& rows);
// One line for `clear`: "removed ip/imap 127.0.0.7 (count 6) on 127.0.0.1:11211".
std::string removed_line(const ThrottleRow& row);

// What show and clear are asked about: an address or CIDR block, else a user.
struct ThrottleTarget {
  std::optional<net::AddressBlock> block;  // an address is a block of its full width
  std::string address;  // an address alone, as zmproxyd writes it; "" for a block
  std::string user;     // lower-cased, as zmproxyd builds keys
};

// nullopt for an empty (or all blank) argument.
std::optional<ThrottleTarget> parse_target(std::string_view text);

// Whether the counter under `key` is about `target`: an address in the block
// (an IPv4-mapped IPv6 address counts as its IPv4 address), or the user
// (ASCII case ignored: a Zimbra proxy may keep the case typed).
bool matches(const ThrottleTarget& target, const throttle::ParsedKey& key);

// The keys to ask every server for even when it cannot list its keys: the
// address's two connection counters and whitelist verdict, or the user's
// counter (also when its key is too long to read back, an MD5).
std::vector<std::pair<std::string, throttle::ParsedKey>> direct_keys(const ThrottleTarget& target);

}  // namespace zmproxy::ctl

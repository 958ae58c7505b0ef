#pragma once
// Passive health of the web upstreams, as nginx keeps it for `server …
// max_fails=N fail_timeout=T` (Zimbra: zimbraMailProxyMaxFails,
// zimbraMailProxyReconnectTimeout): one record per upstream address of the
// groups http.upstreams and http.admin_upstreams, shared by every worker.
//
// The rules (nginx's ngx_http_upstream_round_robin.c, kept):
//  - a failure (connect refused or timed out, TLS failed, a reset, close or
//    timeout before the answer's header) counts; an answer with any status,
//    5xx included, is a success (nginx's default proxy_next_upstream is
//    "error timeout");
//  - failures count until a request chosen more than fail_timeout after the
//    last one succeeds; a failure more than fail_timeout after the previous
//    one starts the count again;
//  - at max_fails the upstream is down: left out for fail_timeout; then one
//    request (the first to ask) tries it and holds it for another
//    fail_timeout: its success brings it back, its failure puts it down again;
//  - max_fails 0 or fail_timeout 0: never down; a group of one server is not
//    tracked (nginx ignores max_fails for a single server: leaving out the
//    only server helps nobody).
//
// Bounded by the configured addresses (built once per generation). One small
// mutex per upstream, taken only while it has failures: a healthy upstream
// costs one atomic load per request.
//
// Thread affinity: any thread.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::proxy {

class UpstreamHealth {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t k_untracked = static_cast<std::size_t>(-1);

  struct Settings {
    int max_fails = 1;
    std::chrono::milliseconds fail_timeout{10'000};
    bool operator==(const Settings&) const = default;
  };

  // What a report changed.
  enum class Change { none, down, up };

  // `groups`: the upstream groups (host:port entries as configured); the
  // addresses of groups with two or more are tracked.
  UpstreamHealth(const std::vector<std::vector<std::string>>& groups, Settings settings);

  // A table for `groups`: `previous` itself when it tracks the same
  // addresses with the same settings (a reload that did not touch the
  // upstreams forgets nothing, and sessions of either generation report to
  // one table), else a new one that keeps the state of every address
  // `previous` also tracked.
  static std::shared_ptr<UpstreamHealth> carried_over(
      const std::vector<std::vector<std::string>>& groups,
      Settings settings,
      const std::shared_ptr<UpstreamHealth>& previous);

  // The record of `address` ("host:port", IPv6 in brackets, host case
  // ignored), or k_untracked.
  std::size_t find(std::string_view address) const;

  // Whether a request may go to upstream `i` now: false while it is down;
  // true after fail_timeout for the one request that tries it.
  bool try_use(std::size_t i, Clock::time_point now);
  Change failed(std::size_t i, Clock::time_point now);
  Change succeeded(std::size_t i);

  // Down at `now` (for STATUS and tests; does not claim the trial).
  bool is_down(std::size_t i, Clock::time_point now) const;

  // An upstream left out at `now`, and how long until one request tries it.
  struct Down {
    std::string address;
    std::chrono::milliseconds retry_in;
  };
  // Every upstream down at `now`, in address order (STATUS; bounded by the
  // configured addresses).
  std::vector<Down> down(Clock::time_point now) const;
  // How many times an upstream was left out (went down: the "is left out"
  // log lines; a failed trial that keeps it out is not another), since
  // start: carried over by reloads.
  std::uint64_t marked_down() const { return m_marked_down.load(std::memory_order_relaxed); }
  std::size_t size() const { return m_addresses.size(); }
  const std::string& address(std::size_t i) const { return m_addresses[i]; }
  const Settings& settings() const { return m_settings; }

 private:
  struct Peer {
    std::atomic<std::uint32_t> fails{0};  // written under `m`; read without it for the fast path
    mutable std::mutex m;
    Clock::time_point accessed{};  // the last failure
    Clock::time_point checked{};   // the last failure, or the last choice after fail_timeout
  };

  bool tracking() const;

  Settings m_settings;
  std::vector<std::string> m_addresses;  // sorted, normalised
  std::unique_ptr<Peer[]> m_peers;
  std::atomic<std::uint64_t> m_marked_down{0};
};

// What an attempt at upstream `tracked` of `health` (either may be
// null/untracked: nothing is done) tells its passive health; a server left
// out, or back, is logged once.
void report_attempt(UpstreamHealth* health, std::size_t tracked, bool ok);

}  // namespace zmproxy::proxy

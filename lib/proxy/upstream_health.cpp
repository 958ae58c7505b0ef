#include "lib/proxy/upstream_health.hpp"

#include "lib/log/logger.hpp"

#include "lib/core/address.hpp"
#include "lib/core/strings.hpp"

#include <algorithm>

namespace zmproxy::proxy {

namespace {

// "host:port" as Target::address() writes it, the host in lower case; ""
// when the entry does not parse (the configuration was checked).
std::string normalised(std::string_view entry) {
  const core::ParsedAddress a = core::parse_address(entry, {80});
  return a ? core::format_address(core::to_lower(a->host), a->port) : std::string();
}

}  // namespace

UpstreamHealth::UpstreamHealth(const std::vector<std::vector<std::string>>& groups,
                               Settings settings)
    : m_settings(settings) {
  for (const auto& group : groups) {
    if (group.size() < 2) {
      continue;
    }
    for (const std::string& entry : group) {
      if (std::string a = normalised(entry); !a.empty()) {
        m_addresses.push_back(std::move(a));
      }
    }
  }
  std::sort(m_addresses.begin(), m_addresses.end());
  m_addresses.erase(std::unique(m_addresses.begin(), m_addresses.end()), m_addresses.end());
  m_peers = std::make_unique<Peer[]>(m_addresses.size());
}

std::shared_ptr<UpstreamHealth> UpstreamHealth::carried_over(
    const std::vector<std::vector<std::string>>& groups,
    Settings settings,
    const std::shared_ptr<UpstreamHealth>& previous) {
  auto next = std::make_shared<UpstreamHealth>(groups, settings);
  if (!previous) {
    return next;
  }
  if (previous->m_settings == settings && previous->m_addresses == next->m_addresses) {
    return previous;
  }
  next->m_marked_down.store(previous->marked_down(), std::memory_order_relaxed);
  for (std::size_t i = 0; i < next->m_addresses.size(); ++i) {
    const std::size_t old = previous->find(next->m_addresses[i]);
    if (old == k_untracked) {
      continue;
    }
    const Peer& from = previous->m_peers[old];
    Peer& to = next->m_peers[i];
    const std::lock_guard lock(from.m);
    to.fails.store(from.fails.load(std::memory_order_relaxed), std::memory_order_relaxed);
    to.accessed = from.accessed;
    to.checked = from.checked;
  }
  return next;
}

std::size_t UpstreamHealth::find(std::string_view address) const {
  for (std::size_t i = 0; i < m_addresses.size(); ++i) {
    if (core::iequals(m_addresses[i], address)) {
      return i;
    }
  }
  return k_untracked;
}

bool UpstreamHealth::tracking() const {
  return m_settings.max_fails > 0 && m_settings.fail_timeout.count() > 0;
}

bool UpstreamHealth::try_use(std::size_t i, Clock::time_point now) {
  if (i >= m_addresses.size() || !tracking()) {
    return true;
  }
  Peer& p = m_peers[i];
  if (p.fails.load(std::memory_order_acquire) == 0) {
    return true;
  }
  const std::lock_guard lock(p.m);
  const std::uint32_t fails = p.fails.load(std::memory_order_relaxed);
  const bool window_over = now - p.checked > m_settings.fail_timeout;
  if (fails >= static_cast<std::uint32_t>(m_settings.max_fails) && !window_over) {
    return false;
  }
  if (window_over) {
    p.checked = now;  // this request is the trial: the others wait another fail_timeout
  }
  return true;
}

UpstreamHealth::Change UpstreamHealth::failed(std::size_t i, Clock::time_point now) {
  if (i >= m_addresses.size() || !tracking()) {
    return Change::none;
  }
  Peer& p = m_peers[i];
  const std::lock_guard lock(p.m);
  std::uint32_t fails = p.fails.load(std::memory_order_relaxed);
  const auto max = static_cast<std::uint32_t>(m_settings.max_fails);
  if (fails > 0 && fails < max && now - p.accessed > m_settings.fail_timeout) {
    fails = 0;  // the last failure is too old to count with this one
  }
  const bool was_down = fails >= max;
  if (fails < max) {
    ++fails;  // at most max: a down upstream's count does not grow
  }
  p.fails.store(fails, std::memory_order_release);
  p.accessed = now;
  p.checked = now;
  if (was_down || fails < max) {
    return Change::none;
  }
  m_marked_down.fetch_add(1, std::memory_order_relaxed);
  return Change::down;
}

UpstreamHealth::Change UpstreamHealth::succeeded(std::size_t i) {
  if (i >= m_addresses.size() || !tracking()) {
    return Change::none;
  }
  Peer& p = m_peers[i];
  if (p.fails.load(std::memory_order_acquire) == 0) {
    return Change::none;
  }
  const std::lock_guard lock(p.m);
  const std::uint32_t fails = p.fails.load(std::memory_order_relaxed);
  // Only a request chosen after the last failure's window (checked moved
  // past accessed) clears the count: an answer to one sent before the
  // failure says nothing about the server now.
  if (fails == 0 || !(p.accessed < p.checked)) {
    return Change::none;
  }
  p.fails.store(0, std::memory_order_release);
  return fails >= static_cast<std::uint32_t>(m_settings.max_fails) ? Change::up : Change::none;
}

bool UpstreamHealth::is_down(std::size_t i, Clock::time_point now) const {
  if (i >= m_addresses.size() || !tracking()) {
    return false;
  }
  const Peer& p = m_peers[i];
  if (p.fails.load(std::memory_order_acquire) == 0) {
    return false;
  }
  const std::lock_guard lock(p.m);
  return p.fails.load(std::memory_order_relaxed) >=
             static_cast<std::uint32_t>(m_settings.max_fails) &&
         now - p.checked <= m_settings.fail_timeout;
}

std::vector<UpstreamHealth::Down> UpstreamHealth::down(Clock::time_point now) const {
  std::vector<Down> out;
  if (!tracking()) {
    return out;
  }
  for (std::size_t i = 0; i < m_addresses.size(); ++i) {
    const Peer& p = m_peers[i];
    if (p.fails.load(std::memory_order_acquire) == 0) {
      continue;
    }
    const std::lock_guard lock(p.m);
    const auto since = now - p.checked;
    if (p.fails.load(std::memory_order_relaxed) >= static_cast<std::uint32_t>(m_settings.max_fails) &&
        since <= m_settings.fail_timeout) {
      out.push_back({m_addresses[i],
                     m_settings.fail_timeout - std::chrono::duration_cast<std::chrono::milliseconds>(since)});
    }
  }
  return out;
}

void report_attempt(UpstreamHealth* health, std::size_t tracked, bool ok) {
  if (health == nullptr || tracked == UpstreamHealth::k_untracked) {
    return;
  }
  const auto change = ok ? health->succeeded(tracked) : health->failed(tracked, UpstreamHealth::Clock::now());
  if (change == UpstreamHealth::Change::down) {
    const auto& s = health->settings();
    ZMPROXY_LOG(warn, "http",
                "web upstream {} is left out for {} ms after {} failure(s) (zimbraMailProxyMaxFails, "
                "zimbraMailProxyReconnectTimeout)",
                health->address(tracked), s.fail_timeout.count(), s.max_fails);
  } else if (change == UpstreamHealth::Change::up) {
    ZMPROXY_LOG(info, "http", "web upstream {} answers again", health->address(tracked));
  }
}

}  // namespace zmproxy::proxy

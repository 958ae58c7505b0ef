#include "lib/route/local_route_cache.hpp"

#include "lib/core/address.hpp"
#include "lib/core/strings.hpp"

#include <algorithm>

namespace zmproxy::route {

std::string normalise_host(std::string_view host) {
  host = core::trim(host);
  host = core::host_part(host);  // a bare v6 address keeps its colons
  if (!host.empty() && host.back() == '.') {
    host.remove_suffix(1);
  }
  return core::to_lower(host);
}

std::string local_route_key(const RouteQuery& q) {
  std::string key;
  const std::string user = core::to_lower(q.user);
  const std::string host = normalise_host(q.proxy_host);
  key.reserve(q.protocol.size() + user.size() + q.proxy_ip.size() + host.size() + 16);
  key += core::to_lower(q.protocol);
  key += '\n';
  key += q.by_id ? "id:" : "";
  key += user;
  key += '\n';
  key += q.admin ? "admin" : "";
  key += '\n';
  key += q.proxy_ip;
  key += '\n';
  key += host;
  return key;
}

LocalRouteCache::LocalRouteCache(std::size_t capacity, std::chrono::seconds ttl)
    : m_capacity(ttl.count() > 0 ? capacity : 0), m_ttl(ttl) {}

std::optional<Route> LocalRouteCache::get(const std::string& key, Clock::time_point now) {
  if (m_capacity == 0) {
    return std::nullopt;
  }
  std::lock_guard lock(m_mutex);
  const auto found = m_by_key.find(key);
  if (found == m_by_key.end()) {
    return std::nullopt;
  }
  const List::iterator it = found->second;
  if (it->expires <= now) {
    erase(it);
    return std::nullopt;
  }
  m_lru.splice(m_lru.begin(), m_lru, it);
  return it->route;
}

void LocalRouteCache::put(const std::string& key, std::string_view login, const Route& route,
                          Clock::time_point now) {
  if (m_capacity == 0) {
    return;
  }
  std::string first = core::to_lower(login);
  std::string second = core::to_lower(route.user);
  if (second == first) {
    second.clear();
  }
  std::lock_guard lock(m_mutex);
  if (now < m_all_quiet_until || quiet(first, now) || quiet(second, now)) {
    return;  // forgotten a moment ago: memcached (or the handler) is asked each time
  }
  if (const auto found = m_by_key.find(key); found != m_by_key.end()) {
    erase(found->second);
  }
  while (m_lru.size() >= m_capacity) {
    erase(std::prev(m_lru.end()));
    ++m_evictions;
  }
  m_lru.push_front(Node{key, route, now + m_ttl, {std::move(first), std::move(second)}});
  const Node* node = &m_lru.front();
  m_by_key.emplace(key, m_lru.begin());
  for (const std::string& name : node->names) {
    if (!name.empty()) {
      m_by_name[name].insert(node);
    }
  }
}

std::size_t LocalRouteCache::invalidate(std::string_view user) {
  const std::string name = core::to_lower(user);
  std::lock_guard lock(m_mutex);
  const auto found = m_by_name.find(name);
  if (found == m_by_name.end()) {
    return 0;
  }
  // Collect the keys first: erase() edits the sets being walked.
  std::vector<std::string> keys;
  keys.reserve(found->second.size());
  for (const Node* node : found->second) {
    keys.push_back(node->key);
  }
  for (const std::string& key : keys) {
    if (const auto it = m_by_key.find(key); it != m_by_key.end()) {
      erase(it->second);
    }
  }
  return keys.size();
}

bool LocalRouteCache::quiet(const std::string& name, Clock::time_point now) const {
  if (name.empty() || m_quiet.empty()) {
    return false;
  }
  const auto found = m_quiet.find(name);
  return found != m_quiet.end() && now < found->second;
}

std::size_t LocalRouteCache::forget(std::string_view user, Clock::time_point quiet_until, Clock::time_point now) {
  if (m_capacity == 0) {
    return 0;
  }
  // Quiet first, then dropped: a put racing with this either lands before
  // the drop or is refused after it.
  std::string name = core::to_lower(user);
  {
    std::lock_guard lock(m_mutex);
    if (m_quiet.size() >= k_max_quiet && !m_quiet.contains(name)) {
      std::erase_if(m_quiet, [now](const auto& q) { return q.second <= now; });
    }
    if (m_quiet.size() >= k_max_quiet && !m_quiet.contains(name)) {
      m_all_quiet_until = std::max(m_all_quiet_until, quiet_until);  // too many to name: everyone
    } else {
      auto& until = m_quiet[std::move(name)];
      until = std::max(until, quiet_until);
    }
  }
  return invalidate(user);
}

std::size_t LocalRouteCache::forget_all(Clock::time_point quiet_until) {
  List dropped;
  std::unordered_map<std::string, List::iterator> by_key;
  std::unordered_map<std::string, std::unordered_set<const Node*>> by_name;
  std::unordered_map<std::string, Clock::time_point> quiet;
  {
    std::lock_guard lock(m_mutex);
    dropped.swap(m_lru);
    by_key.swap(m_by_key);
    by_name.swap(m_by_name);
    quiet.swap(m_quiet);  // everyone is quiet now
    m_all_quiet_until = std::max(m_all_quiet_until, quiet_until);
  }
  return dropped.size();  // freed here, outside the lock
}

std::size_t LocalRouteCache::size() const {
  std::lock_guard lock(m_mutex);
  return m_lru.size();
}

std::uint64_t LocalRouteCache::evictions() const {
  std::lock_guard lock(m_mutex);
  return m_evictions;
}

void LocalRouteCache::unindex(const std::string& name, const Node* node) {
  if (name.empty()) {
    return;
  }
  const auto found = m_by_name.find(name);
  if (found == m_by_name.end()) {
    return;
  }
  found->second.erase(node);
  if (found->second.empty()) {
    m_by_name.erase(found);
  }
}

void LocalRouteCache::erase(List::iterator it) {
  for (const std::string& name : it->names) {
    unindex(name, &*it);
  }
  m_by_key.erase(it->key);
  m_lru.erase(it);
}

}  // namespace zmproxy::route

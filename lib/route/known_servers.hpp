#pragma once
// KnownServers: the mailbox servers (address and port) a route read from
// memcached may name. memcached is shared and unauthenticated, so a route
// found there is only believed when it names one of these, or carries the
// route secret's HMAC (route_seal.hpp); anything else could send a user's
// password to whoever wrote the cache.
//
// Built from zmproxy.conf's [route] mailbox_servers ("host:port", which
// confgen fills with every server entry's mail and web ports): host names are
// resolved once, at build time, so a route holding the server's address
// (zimbraReverseProxyDnsLookupInServerEnabled) is known too. Host names are
// compared lower-case, IP addresses in their canonical form.
//
// Thread affinity: build() blocks on DNS (configuration load, never an I/O
// thread); contains() is const and thread-safe.

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/core/result.hpp"

namespace zmproxy::route {

class KnownServers {
 public:
  // Addresses of a host name ("" entries ignored); the default uses getaddrinfo.
  using Resolve = std::function<std::vector<std::string>(const std::string& host)>;
  // At most this many entries (and as many names resolved).
  static constexpr std::size_t k_max_entries = 65536;

  KnownServers() = default;
  // Errors name the entry that is not host:port.
  static Result<KnownServers> build(const std::vector<std::string>& entries,
                                    const Resolve& resolve = system_resolve);
  static std::vector<std::string> system_resolve(const std::string& host);

  bool contains(std::string_view host, int port) const;
  bool empty() const noexcept { return m_known.empty(); }
  std::size_t size() const noexcept { return m_known.size(); }

 private:
  std::set<std::pair<std::string, int>, std::less<>> m_known;
};

// "Host" as compared: an IP address in canonical form, else lower-case.
std::string canonical_host(std::string_view host);

}  // namespace zmproxy::route

#include "lib/route/known_servers.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <charconv>
#include <map>

#include "lib/core/address.hpp"
#include "lib/core/strings.hpp"

namespace zmproxy::route {

namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

std::string canonical_host(std::string_view host) {
  const std::string h = core::to_lower(host);
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  if (::inet_pton(AF_INET6, h.c_str(), buf) == 1 &&
      ::inet_ntop(AF_INET6, buf, text, sizeof text) != nullptr) {
    return text;
  }
  return h;  // IPv4 (inet_pton accepts only the canonical dotted quad) or a name
}

std::vector<std::string> KnownServers::system_resolve(const std::string& host) {
  std::vector<std::string> out;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
    return out;
  }
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN];
    const void* addr = a->ai_family == AF_INET
                           ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                           : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
        ::inet_ntop(a->ai_family, addr, text, sizeof text) != nullptr) {
      out.emplace_back(text);
    }
  }
  ::freeaddrinfo(res);
  return out;
}

Result<KnownServers> KnownServers::build(const std::vector<std::string>& entries,
                                         const Resolve& resolve) {
  if (entries.size() > k_max_entries) {
    return fail(Errc::invalid_argument, "route.mailbox_servers has " +
                                            std::to_string(entries.size()) + " entries; at most " +
                                            std::to_string(k_max_entries) + " are allowed");
  }
  KnownServers out;
  std::map<std::string, std::vector<std::string>> resolved;  // each name once
  for (const std::string& entry : entries) {
    const core::ParsedAddress parsed = core::parse_address(core::trim(entry));
    if (!parsed) {
      return fail(Errc::invalid_argument, "route.mailbox_servers: '" + entry +
                                              "' is not host:port (write [v6]:port for IPv6)");
    }
    const std::string host = canonical_host(parsed->host);
    const int port = parsed->port;
    out.m_known.emplace(host, port);
    if (is_ip_literal(host) || !resolve) {
      continue;
    }
    auto [it, fresh] = resolved.try_emplace(host);
    if (fresh) {
      it->second = resolve(host);
    }
    for (const std::string& address : it->second) {
      if (!address.empty()) {
        out.m_known.emplace(canonical_host(address), port);
      }
    }
  }
  return out;
}

bool KnownServers::contains(std::string_view host, int port) const {
  return m_known.find(std::pair<std::string, int>(canonical_host(host), port)) != m_known.end();
}

}  // namespace zmproxy::route

#include "lib/proxy/http/target.hpp"

#include <cstdint>
#include <cstdlib>

#include <fmt/format.h>

#include "lib/core/address.hpp"
#include "lib/core/strings.hpp"
#include "lib/proxy/http/public_url.hpp"

namespace zmproxy::proxy::http {

std::string Target::address() const {
  return core::format_address(host, static_cast<unsigned>(port));
}

Target peer_target(const std::string& entry) {
  const core::ParsedAddress a = core::parse_address(entry, {80});
  return Target{a->host, a->port, true, {}};
}

std::vector<Target> ip_hash_targets(const std::vector<std::string>& peers, std::string_view client_ip) {
  std::vector<Target> targets;
  targets.reserve(peers.size());  // one allocation a request, not one per target
  // Which peers are taken: bits of a word for up to 64 (no allocation),
  // else a vector.
  const bool few = peers.size() <= 64;
  std::uint64_t used_bits = 0;
  std::vector<bool> used_many(few ? 0 : peers.size(), false);
  const auto used = [&](std::size_t i) { return few ? ((used_bits >> i) & 1U) != 0 : bool(used_many[i]); };
  const auto use = [&](std::size_t i) {
    if (few) {
      used_bits |= std::uint64_t{1} << i;
    } else {
      used_many[i] = true;
    }
  };
  for (std::size_t attempt = 0; attempt < 20 && targets.size() < peers.size(); ++attempt) {
    const std::size_t pick = ip_hash(client_ip, peers.size(), attempt);
    if (used(pick)) {
      continue;
    }
    use(pick);
    targets.push_back(peer_target(peers[pick]));
  }
  for (std::size_t i = 0; i < peers.size(); ++i) {  // any left after 20 rehashes
    if (!used(i)) {
      targets.push_back(peer_target(peers[i]));
    }
  }
  return targets;
}

route::RouteQuery route_query(const RouteKey& key, bool upstream_ssl, bool admin, const std::string& client_ip,
                              const std::string& local_ip, std::string_view host_header) {
  route::RouteQuery q;
  q.user = key.value;
  q.by_id = key.kind == RouteKey::Kind::zimbra_id;
  q.admin = key.admin;
  q.protocol = upstream_ssl || admin ? "httpssl" : "http";
  q.client_ip = client_ip;
  q.proxy_ip = local_ip;
  q.proxy_host = host_header;
  q.login_attempt = 0;
  return q;
}

Target routed_target(const route::Route& found, const RouteKey& key) {
  const auto at = key.value.rfind('@');
  return Target{found.host, found.port, false,
                key.kind == RouteKey::Kind::user && at != std::string::npos ? core::to_lower(key.value.substr(at + 1))
                                                                            : std::string()};
}

std::chrono::milliseconds upstream_read_timeout(const config::HttpSection& h, std::string_view path) {
  switch (read_timeout_kind(path)) {
    case ReadTimeoutKind::polling:
      return h.poll_timeout;
    case ReadTimeoutKind::noop:
      return h.noop_timeout;
    case ReadTimeoutKind::waitset:
      return h.waitset_timeout;
    case ReadTimeoutKind::read:
      break;
  }
  return h.read_timeout;
}

std::string upstream_pool_key(const void* client_tls, const Target& t) {
  return (client_tls != nullptr ? fmt::format("s{}:", client_tls) : "p:") + t.address();
}

std::string internal_base(bool upstream_ssl, const Target& t) {
  return std::string("http") + (upstream_ssl ? "s" : "") + "://" + t.address();
}

std::string public_base(const config::HttpSection& h, bool client_tls, std::string_view host_header,
                        const Target& t) {
  PublicUrlInput in;
  for (const std::string& entry : h.domain_public_services) {
    const auto words = core::split(std::string(core::trim(entry)), ' ');
    if (words.size() >= 2 && !t.domain.empty() && core::iequals(words[0], t.domain)) {
      in.domain_public_hostname = words[1];
      in.domain_public_protocol = words.size() >= 3 ? words[2] : std::string();
      in.domain_public_port = words.size() >= 4 ? std::atoi(words[3].c_str()) : 0;
    }
  }
  in.global_public_hostname = h.public_hostname;
  in.global_public_protocol = h.public_protocol;
  in.global_public_port = h.public_port;
  if (in.domain_public_hostname.empty() && in.global_public_hostname.empty()) {
    return std::string(client_tls ? "https" : "http") + "://" + std::string(host_header);
  }
  return public_base_url(in);
}

}  // namespace zmproxy::proxy::http

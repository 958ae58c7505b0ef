#include "lib/route/purge.hpp"

#include "lib/core/address.hpp"
#include "lib/core/strings.hpp"
#include "lib/route/cache_key.hpp"

#include <set>

namespace zmproxy::route {

std::vector<std::string> purge_keys(const Entry& account, const RouteIndex& index,
                                    const std::vector<std::string>& proxy_ips) {
  std::set<std::string> logins;
  const std::string name = core::to_lower(account.first("zimbraMailDeliveryAddress"));
  logins.insert(name);
  if (const auto* aliases = account.values("zimbraMailAlias")) {
    for (const auto& a : *aliases) {
      logins.insert(core::to_lower(a));
    }
  }
  // Addresses in alias domains whose target is the account's domain.
  const std::set<std::string> base(logins.begin(), logins.end());
  for (const std::string& login : base) {
    const auto at = login.find('@');
    if (at == std::string::npos) {
      continue;
    }
    const Entry* domain = index.domain_by_name(login.substr(at + 1));
    if (domain == nullptr) {
      continue;
    }
    const std::string id = core::to_lower(domain->first("zimbraId"));
    for (const Entry& d : index.domains()) {
      if (d.first("zimbraDomainType") == "alias" &&
          core::to_lower(d.first("zimbraDomainAliasTargetId")) == id) {
        logins.insert(login.substr(0, at + 1) + core::to_lower(d.first("zimbraDomainName")));
      }
    }
  }
  // Bare names: in the default domain, and in domains chosen by virtual IP/host.
  std::set<std::string> bare;
  const std::string def = core::to_lower(index.global().first("zimbraDefaultDomainName"));
  std::set<std::string> ips(proxy_ips.begin(), proxy_ips.end());
  std::set<std::string> vhosts;
  for (const std::string& login : std::set<std::string>(logins)) {
    const auto at = login.find('@');
    if (at == std::string::npos) {
      continue;
    }
    const std::string domain_name = login.substr(at + 1);
    const Entry* domain = index.domain_by_name(domain_name);
    const bool has_vip = domain != nullptr && domain->has("zimbraVirtualIPAddress");
    if (domain_name == def || has_vip || (domain != nullptr && domain->has("zimbraVirtualHostname"))) {
      bare.insert(login.substr(0, at));
    }
    if (domain != nullptr) {
      if (const auto* v = domain->values("zimbraVirtualIPAddress")) {
        ips.insert(v->begin(), v->end());
      }
      if (const auto* v = domain->values("zimbraVirtualHostname")) {
        vhosts.insert(v->begin(), v->end());
      }
    }
  }
  logins.insert(bare.begin(), bare.end());

  std::set<std::string> keys;
  const std::string id = core::to_lower(account.first("zimbraId"));
  for (const char* proto : {"imap", "imapssl", "pop3", "pop3ssl", "http", "httpssl"}) {
    for (const std::string& login : logins) {
      keys.insert(route_key(proto, login));
    }
    if (!id.empty()) {
      keys.insert(route_id_key(proto, id, RouteKind::web));
      keys.insert(route_id_key(proto, id, RouteKind::admin));
      keys.insert(route_id_key(proto, id, RouteKind::zx));
    }
  }
  for (const std::string& login : logins) {
    for (const std::string& ip : ips) {
      keys.insert(alias_key(login, ip));
    }
    for (const std::string& host : vhosts) {
      keys.insert(alias_vhost_key(login, host));
    }
  }
  return {keys.begin(), keys.end()};
}

std::vector<std::string> memcached_servers(const RouteIndex& index, const std::string& server_name) {
  const Entry* self = index.server_by_name(server_name);
  static const Entry k_none;
  const auto listed = index.server_values(self != nullptr ? *self : k_none,
                                          "zimbraMemcachedClientServerList");
  if (!listed.empty()) {
    return listed;
  }
  std::vector<std::string> out;
  for (const Entry& s : index.servers()) {
    const auto* services = s.values("zimbraServiceEnabled");
    if (services == nullptr) {
      continue;
    }
    for (const auto& svc : *services) {
      if (core::iequals(svc, "memcached")) {
        out.push_back(core::format_host(s.first("zimbraServiceHostname")) + ":" +
                      index.server_value(s, "zimbraMemcachedBindPort"));
        break;
      }
    }
  }
  return out;
}

}  // namespace zmproxy::route

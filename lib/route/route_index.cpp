#include "lib/route/route_index.hpp"

#include "lib/core/strings.hpp"
#include "lib/provisioning/filter.hpp"
#include "lib/provisioning/provisioning.hpp"
#include "lib/schema/registry.hpp"

namespace zmproxy::route {

namespace {

template <typename Map>
const Entry* find_in(const Map& m, const std::vector<Entry>& v, std::string_view key) {
  const auto it = m.find(core::to_lower(key));
  return it == m.end() ? nullptr : &v[it->second];
}

std::string registry_default(std::string_view attr) {
  const schema::Attribute* a = schema::find(attr);
  return (a == nullptr || a->defaults.empty()) ? std::string() : std::string(a->defaults.front());
}

}  // namespace

Result<std::shared_ptr<const RouteIndex>> RouteIndex::build(provisioning::Directory& dir) {
  std::vector<Entry> all;
  auto config = dir.get(provisioning::k_config_dn);
  if (!config) {
    return tl::unexpected(config.error());
  }
  if (*config) {
    all.push_back(std::move(**config));
  }
  for (const char* filter : {"(objectClass=zimbraServer)", "(objectClass=zimbraDomain)",
                             "(objectClass=zimbraAccount)"}) {
    auto found = dir.search("", provisioning::Scope::subtree, filter);
    if (!found) {
      if (found.error().code == Errc::not_found) {
        continue;  // an empty directory
      }
      return tl::unexpected(found.error());
    }
    for (Entry& e : *found) {
      all.push_back(std::move(e));
    }
  }
  return from_entries(std::move(all));
}

std::shared_ptr<const RouteIndex> RouteIndex::from_entries(std::vector<Entry> entries) {
  auto index = std::make_shared<RouteIndex>();
  for (Entry& e : entries) {
    if (e.has_object_class("zimbraGlobalConfig")) {
      index->m_global = std::move(e);
    } else if (e.has_object_class("zimbraServer")) {
      index->m_servers.push_back(std::move(e));
    } else if (e.has_object_class("zimbraDomain")) {
      index->m_domains.push_back(std::move(e));
    } else if (e.has_object_class("zimbraAccount")) {
      index->m_accounts.push_back(std::move(e));
    }
  }
  index->add_indexes();
  return index;
}

void RouteIndex::add_indexes() {
  for (std::size_t i = 0; i < m_accounts.size(); ++i) {
    const Entry& a = m_accounts[i];
    m_account_by_address.emplace(core::to_lower(a.first("zimbraMailDeliveryAddress")), i);
    if (const auto* aliases = a.values("zimbraMailAlias")) {
      for (const auto& alias : *aliases) {
        m_account_by_address.emplace(core::to_lower(alias), i);
      }
    }
    m_account_by_id.emplace(core::to_lower(a.first("zimbraId")), i);
    if (const auto* principals = a.values("zimbraForeignPrincipal")) {
      for (const auto& p : *principals) {
        constexpr std::string_view k_krb5 = "kerberos5:";
        if (p.size() > k_krb5.size() && p.compare(0, k_krb5.size(), k_krb5) == 0) {
          m_account_by_principal.emplace(p.substr(k_krb5.size()), i);
        }
      }
    }
  }
  for (std::size_t i = 0; i < m_domains.size(); ++i) {
    const Entry& d = m_domains[i];
    m_domain_by_name.emplace(core::to_lower(d.first("zimbraDomainName")), i);
    m_domain_by_id.emplace(core::to_lower(d.first("zimbraId")), i);
    if (const auto* v = d.values("zimbraVirtualHostname")) {
      for (const auto& h : *v) {
        m_domain_by_vhost.emplace(core::to_lower(h), i);
      }
    }
    if (const auto* v = d.values("zimbraVirtualIPAddress")) {
      for (const auto& ip : *v) {
        m_domain_by_vip.emplace(core::to_lower(ip), i);
      }
    }
  }
  for (std::size_t i = 0; i < m_servers.size(); ++i) {
    const Entry& s = m_servers[i];
    m_server_by_name.emplace(core::to_lower(s.first("cn")), i);
    if (const auto* v = s.values("zimbraServiceHostname")) {
      for (const auto& h : *v) {
        m_server_by_hostname.emplace(core::to_lower(h), i);
      }
    }
  }
  m_account_by_address.erase("");
  m_account_by_id.erase("");
  m_domain_by_name.erase("");
  m_domain_by_id.erase("");
}

std::string RouteIndex::global_value(std::string_view attr) const {
  const std::string v = m_global.first(attr);
  return v.empty() ? registry_default(attr) : v;
}

std::string RouteIndex::server_value(const Entry& server, std::string_view attr) const {
  const std::string v = server.first(attr);
  return v.empty() ? global_value(attr) : v;
}

std::vector<std::string> RouteIndex::server_values(const Entry& server, std::string_view attr) const {
  if (const auto* v = server.values(attr)) {
    return *v;
  }
  if (const auto* v = m_global.values(attr)) {
    return *v;
  }
  const schema::Attribute* a = schema::find(attr);
  return a == nullptr ? std::vector<std::string>{}
                      : std::vector<std::string>(a->defaults.begin(), a->defaults.end());
}

const Entry* RouteIndex::account_by_address(std::string_view address) const {
  return find_in(m_account_by_address, m_accounts, address);
}
const Entry* RouteIndex::account_by_id(std::string_view id) const {
  return find_in(m_account_by_id, m_accounts, id);
}
const Entry* RouteIndex::account_by_principal(std::string_view principal) const {
  const auto it = m_account_by_principal.find(principal);
  return it == m_account_by_principal.end() ? nullptr : &m_accounts[it->second];
}
const Entry* RouteIndex::domain_by_name(std::string_view name) const {
  return find_in(m_domain_by_name, m_domains, name);
}
const Entry* RouteIndex::domain_by_id(std::string_view id) const {
  return find_in(m_domain_by_id, m_domains, id);
}
const Entry* RouteIndex::domain_by_virtual_host(std::string_view host) const {
  return find_in(m_domain_by_vhost, m_domains, host);
}
const Entry* RouteIndex::domain_by_virtual_ip(std::string_view ip) const {
  return find_in(m_domain_by_vip, m_domains, ip);
}
const Entry* RouteIndex::server_by_service_hostname(std::string_view host) const {
  return find_in(m_server_by_hostname, m_servers, host);
}
const Entry* RouteIndex::server_by_name(std::string_view name) const {
  return find_in(m_server_by_name, m_servers, name);
}

std::vector<const Entry*> RouteIndex::search(const std::vector<Entry>& among,
                                             std::string_view filter) const {
  std::vector<const Entry*> out;
  auto parsed = provisioning::parse_filter(filter);
  if (!parsed) {
    return out;
  }
  for (const Entry& e : among) {
    if (provisioning::matches(*parsed, e)) {
      out.push_back(&e);
    }
  }
  return out;
}

}  // namespace zmproxy::route

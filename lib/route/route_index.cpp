#include "lib/route/route_index.hpp"

#include "lib/core/strings.hpp"
#include "lib/provisioning/filter.hpp"
#include "lib/provisioning/provisioning.hpp"
#include "lib/schema/registry.hpp"

#include <functional>

namespace zmproxy::route {

namespace {

const Entry* find_in(const NameTable& t, const std::vector<Entry>& v, std::string_view key) {
  const std::uint32_t* at = t.find(key);
  return at == nullptr ? nullptr : &v[*at];
}

// Every value of `attr` in `e`, added to `t` at `position`.
void add_values(NameTable& t, const Entry& e, std::string_view attr, std::uint32_t position) {
  if (const auto* v = e.values(attr)) {
    for (const auto& name : *v) {
      t.add(name, position);
    }
  }
}

// The first value of `attr` in `e` (as Entry::first, without the copy).
std::string_view first_value(const Entry& e, std::string_view attr) {
  const auto* v = e.values(attr);
  return v == nullptr ? std::string_view() : std::string_view(v->front());
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
  index->add_settings();
  return index;
}

void RouteIndex::add_indexes() {
  for (std::size_t i = 0; i < m_accounts.size(); ++i) {
    const Entry& a = m_accounts[i];
    const auto at = static_cast<std::uint32_t>(i);
    m_account_by_address.add(first_value(a, "zimbraMailDeliveryAddress"), at);
    add_values(m_account_by_address, a, "zimbraMailAlias", at);
    m_account_by_id.add(first_value(a, "zimbraId"), at);
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
    const auto at = static_cast<std::uint32_t>(i);
    m_domain_by_name.add(first_value(d, "zimbraDomainName"), at);
    m_domain_by_id.add(first_value(d, "zimbraId"), at);
    add_values(m_domain_by_vhost, d, "zimbraVirtualHostname", at);
    add_values(m_domain_by_vip, d, "zimbraVirtualIPAddress", at);
  }
  for (std::size_t i = 0; i < m_servers.size(); ++i) {
    const Entry& s = m_servers[i];
    const auto at = static_cast<std::uint32_t>(i);
    m_server_by_name.add(first_value(s, "cn"), at);
    add_values(m_server_by_hostname, s, "zimbraServiceHostname", at);
  }
}

void RouteIndex::add_settings() {
  m_settings = compute_lookup_settings(*this);
  m_no_server = compute_server_settings(*this, nullptr);
  m_server_settings.reserve(m_servers.size());
  for (const Entry& s : m_servers) {
    m_server_settings.push_back(compute_server_settings(*this, &s));
  }
  m_account_settings.reserve(m_accounts.size());
  for (const Entry& a : m_accounts) {
    m_account_settings.push_back(compute_account_settings(m_settings, a));
  }
  m_domain_settings.reserve(m_domains.size());
  for (const Entry& d : m_domains) {
    m_domain_settings.push_back(compute_domain_settings(d));
  }
}

namespace {

// The position of `e` in `among`, or among.size() when it is not one of them.
std::size_t position_in(const std::vector<Entry>& among, const Entry* e) noexcept {
  const std::less<const Entry*> before;
  if (e == nullptr || among.empty() || before(e, among.data()) || !before(e, among.data() + among.size())) {
    return among.size();
  }
  return static_cast<std::size_t>(e - among.data());
}

}  // namespace

const ServerSettings& RouteIndex::server_settings(const Entry* server) const noexcept {
  const std::size_t at = position_in(m_servers, server);
  return at < m_server_settings.size() ? m_server_settings[at] : m_no_server;
}

const AccountSettings& RouteIndex::account_settings(const Entry& account) const noexcept {
  static const AccountSettings k_none;
  const std::size_t at = position_in(m_accounts, &account);
  return at < m_account_settings.size() ? m_account_settings[at] : k_none;
}

const DomainSettings& RouteIndex::domain_settings(const Entry& domain) const noexcept {
  static const DomainSettings k_none;
  const std::size_t at = position_in(m_domains, &domain);
  return at < m_domain_settings.size() ? m_domain_settings[at] : k_none;
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

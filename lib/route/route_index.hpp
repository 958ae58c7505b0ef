#pragma once
// RouteIndex: an immutable in-memory snapshot of what the route lookup needs
// from the store — global config, servers, domains, accounts — indexed by
// name, alias, zimbraId, virtual host name and virtual IP. zmlookupd answers
// every lookup from it and rebuilds it when the store's change feed fires,
// instead of asking the directory once per login. Thread-safe once built.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.hpp"
#include "lib/provisioning/directory.hpp"
#include "lib/provisioning/entry.hpp"

namespace zmproxy::route {

using provisioning::Entry;

class RouteIndex {
 public:
  // Read everything from the directory (a few searches, not one per entry).
  static Result<std::shared_ptr<const RouteIndex>> build(provisioning::Directory& dir);
  // An index over given entries (for tests and tools).
  static std::shared_ptr<const RouteIndex> from_entries(std::vector<Entry> entries);

  const Entry& global() const { return m_global; }
  // The global config value of an attribute (else the registry default).
  std::string global_value(std::string_view attr) const;
  // A server's value of an attribute, else the global config's, else the
  // registry default (server -> global inheritance).
  std::string server_value(const Entry& server, std::string_view attr) const;
  std::vector<std::string> server_values(const Entry& server, std::string_view attr) const;

  const Entry* account_by_address(std::string_view address) const;  // delivery address or alias
  const Entry* account_by_id(std::string_view id) const;
  // The account whose zimbraForeignPrincipal is "kerberos5:<principal>";
  // compared exactly (Kerberos principals are case-sensitive).
  const Entry* account_by_principal(std::string_view principal) const;
  const Entry* domain_by_name(std::string_view name) const;
  const Entry* domain_by_id(std::string_view id) const;
  const Entry* domain_by_virtual_host(std::string_view host) const;
  const Entry* domain_by_virtual_ip(std::string_view ip) const;
  const Entry* server_by_service_hostname(std::string_view host) const;
  const Entry* server_by_name(std::string_view name) const;

  const std::vector<Entry>& accounts() const { return m_accounts; }
  const std::vector<Entry>& domains() const { return m_domains; }
  const std::vector<Entry>& servers() const { return m_servers; }

  // Entries matching an LDAP filter (for non-default lookup queries).
  std::vector<const Entry*> search(const std::vector<Entry>& among, std::string_view filter) const;

 private:
  void add_indexes();

  Entry m_global;
  std::vector<Entry> m_accounts;
  std::vector<Entry> m_domains;
  std::vector<Entry> m_servers;
  std::map<std::string, std::size_t, std::less<>> m_account_by_address;
  std::map<std::string, std::size_t, std::less<>> m_account_by_id;
  std::map<std::string, std::size_t, std::less<>> m_domain_by_name;
  std::map<std::string, std::size_t, std::less<>> m_domain_by_id;
  std::map<std::string, std::size_t, std::less<>> m_domain_by_vhost;
  std::map<std::string, std::size_t, std::less<>> m_domain_by_vip;
  std::map<std::string, std::size_t, std::less<>> m_server_by_hostname;
  std::map<std::string, std::size_t, std::less<>> m_server_by_name;
  std::map<std::string, std::size_t, std::less<>> m_account_by_principal;  // exact case
};

}  // namespace zmproxy::route

#pragma once
// RouteIndex: an immutable in-memory snapshot of what the route lookup needs
// from the store — global config, servers, domains, accounts — indexed by
// name, alias, zimbraId, virtual host name and virtual IP. zmlookupd answers
// every lookup from it and rebuilds it when the store's change feed fires,
// instead of asking the directory once per login. Thread-safe once built.
// Names are found in NameTables (any ASCII case, no copy of the name asked
// for), and what the lookup reads from the global config and the servers is
// resolved once per build (route_index_settings.hpp).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.hpp"
#include "lib/provisioning/directory.hpp"
#include "lib/provisioning/entry.hpp"
#include "lib/route/route_index_names.hpp"
#include "lib/route/route_index_settings.hpp"

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

  // The global config's lookup settings, resolved when the index was built.
  const LookupSettings& settings() const noexcept { return m_settings; }
  // A server's settings (one of servers(), else the global config's for
  // nullptr or any other entry), resolved when the index was built.
  const ServerSettings& server_settings(const Entry* server) const noexcept;
  // An account's (one of accounts()) and a domain's (one of domains())
  // values a lookup reads; for any other entry, none.
  const AccountSettings& account_settings(const Entry& account) const noexcept;
  const DomainSettings& domain_settings(const Entry& domain) const noexcept;

 private:
  void add_indexes();
  void add_settings();

  Entry m_global;
  std::vector<Entry> m_accounts;
  std::vector<Entry> m_domains;
  std::vector<Entry> m_servers;
  NameTable m_account_by_address;
  NameTable m_account_by_id;
  NameTable m_domain_by_name;
  NameTable m_domain_by_id;
  NameTable m_domain_by_vhost;
  NameTable m_domain_by_vip;
  NameTable m_server_by_hostname;
  NameTable m_server_by_name;
  std::map<std::string, std::size_t, std::less<>> m_account_by_principal;  // exact case
  LookupSettings m_settings;
  std::vector<ServerSettings> m_server_settings;  // one per server, in order
  ServerSettings m_no_server;
  std::vector<AccountSettings> m_account_settings;  // one per account, in order
  std::vector<DomainSettings> m_domain_settings;    // one per domain, in order
};

}  // namespace zmproxy::route

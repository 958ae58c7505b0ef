#pragma once
// What the route lookup reads from the global config and from each server,
// resolved once when a RouteIndex is built (server -> global config ->
// registry default, RouteIndex::server_value) so that a lookup does no
// attribute-registry search and walks no attribute map for them: the lookup
// queries, the port per protocol through the zimbraReverseProxy*PortAttribute
// indirection, the IMAP upstream pools with their members' ports, the wait
// interval, host resolution; and of each account and domain the values a
// lookup reads (views into the index's entries). Pure.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "lib/provisioning/entry.hpp"

namespace zmproxy::route {

class RouteIndex;

// The port a lookup asks for: one per protocol, and the admin console's.
enum class PortKind : std::size_t { imap, imapssl, pop3, pop3ssl, http, httpssl, admin };
inline constexpr std::size_t k_port_kinds = 7;

// A port number (1..65535, blanks around allowed), else 0.
int port_number(std::string_view text) noexcept;

// A member of an IMAP upstream pool, and that server's remote IMAP ports.
struct PoolMember {
  std::string host;
  int imap_port = 0;     // zimbraRemoteImapBindPort
  int imapssl_port = 0;  // zimbraRemoteImapSSLBindPort
};

// One server's values (or, for "no such server", the global config's).
struct ServerSettings {
  std::array<int, k_port_kinds> port{};  // 0 when unset or not a port
  std::vector<PoolMember> imap_pool;     // zimbraReverseProxyUpstreamImapServers
  bool resolve_host = true;              // zimbraReverseProxyDnsLookupInServerEnabled
  std::string ip_mode;                   // zimbraIPMode
};

// The global config's values.
struct LookupSettings {
  // A non-default lookup query (searched), or "" for the default (answered
  // from the indexes).
  std::string mail_host_query;  // zimbraReverseProxyMailHostQuery
  std::string port_query;       // zimbraReverseProxyPortQuery
  std::string domain_query;     // zimbraReverseProxyDomainNameQuery
  std::string mail_host_attribute = "zimbraMailHost";  // zimbraReverseProxyMailHostAttribute
  std::string user_name_attribute;                     // zimbraReverseProxyUserNameAttribute
  // zimbraReverseProxyExternalRouteIncludeOriginalAuthusername (a domain's
  // own value wins over it).
  bool include_original_user = false;
  int wait_seconds = 10;       // zimbraReverseProxyAuthWaitInterval, else 10
  std::string default_domain;  // zimbraDefaultDomainName, lower case ("" when unset)
};

// What a lookup reads of an account: views of its values.
struct AccountSettings {
  std::string_view name;       // zimbraMailDeliveryAddress, as stored
  std::string_view mail_host;  // the attribute LookupSettings::mail_host_attribute names
  std::string_view id;         // zimbraId
  std::string_view user_name;  // the attribute LookupSettings::user_name_attribute names
  bool use_external_route = false;  // zimbraReverseProxyUseExternalRoute
};

// What a lookup reads of a domain.
struct DomainSettings {
  const std::vector<std::string>* allowed_ips = nullptr;  // zimbraDomainAllowedIPs, if any
  bool use_external_route = false;                        // zimbraReverseProxyUseExternalRoute
};

LookupSettings compute_lookup_settings(const RouteIndex& index);
AccountSettings compute_account_settings(const LookupSettings& settings, const provisioning::Entry& account);
DomainSettings compute_domain_settings(const provisioning::Entry& domain);
// `server` is one of index.servers(), or nullptr for none.
ServerSettings compute_server_settings(const RouteIndex& index, const provisioning::Entry* server);

}  // namespace zmproxy::route

#include "lib/route/route_index_settings.hpp"

#include "lib/core/duration.hpp"
#include "lib/core/strings.hpp"
#include "lib/route/route_index.hpp"
#include "lib/schema/value.hpp"

#include <charconv>

namespace zmproxy::route {

namespace {

constexpr std::string_view k_default_mail_host_query =
    "(|(zimbraMailDeliveryAddress=${USER})(zimbraMailAlias=${USER})(zimbraId=${USER}))";
constexpr std::string_view k_default_port_query =
    "(&(zimbraServiceHostname=${MAILHOST})(objectClass=zimbraServer))";
constexpr std::string_view k_default_domain_query =
    "(&(zimbraVirtualIPAddress=${IPADDR})(objectClass=zimbraDomain))";

// The global config's query, or "" when it is the default one.
std::string query(const RouteIndex& index, std::string_view attr, std::string_view default_query) {
  std::string q = index.global_value(attr);
  return q == default_query ? std::string() : q;
}

// The attribute naming each kind's port (the indirection).
constexpr std::array<std::string_view, k_port_kinds> k_port_attributes = {
    "zimbraReverseProxyImapPortAttribute",    "zimbraReverseProxyImapSSLPortAttribute",
    "zimbraReverseProxyPop3PortAttribute",    "zimbraReverseProxyPop3SSLPortAttribute",
    "zimbraReverseProxyHttpPortAttribute",    "zimbraReverseProxyHttpSSLPortAttribute",
    "zimbraReverseProxyAdminPortAttribute",
};

}  // namespace

int port_number(std::string_view text) noexcept {
  int n = 0;
  text = core::trim(text);
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  return (ec == std::errc() && p == text.data() + text.size() && n > 0 && n <= 65535) ? n : 0;
}

LookupSettings compute_lookup_settings(const RouteIndex& index) {
  LookupSettings s;
  s.mail_host_query = query(index, "zimbraReverseProxyMailHostQuery", k_default_mail_host_query);
  s.port_query = query(index, "zimbraReverseProxyPortQuery", k_default_port_query);
  s.domain_query = query(index, "zimbraReverseProxyDomainNameQuery", k_default_domain_query);
  if (std::string attr = index.global_value("zimbraReverseProxyMailHostAttribute"); !attr.empty()) {
    s.mail_host_attribute = std::move(attr);
  }
  s.user_name_attribute = index.global_value("zimbraReverseProxyUserNameAttribute");
  s.include_original_user =
      schema::is_true(index.global_value("zimbraReverseProxyExternalRouteIncludeOriginalAuthusername"));
  if (const auto wait = core::parse_duration(index.global_value("zimbraReverseProxyAuthWaitInterval"))) {
    s.wait_seconds = static_cast<int>(wait->count() / 1000);
  }
  s.default_domain = core::to_lower(index.global().first("zimbraDefaultDomainName"));
  return s;
}

namespace {

std::string_view first_value(const provisioning::Entry& e, std::string_view attr) {
  const auto* v = e.values(attr);
  return v == nullptr ? std::string_view() : std::string_view(v->front());
}

}  // namespace

AccountSettings compute_account_settings(const LookupSettings& settings, const provisioning::Entry& account) {
  AccountSettings a;
  a.name = first_value(account, "zimbraMailDeliveryAddress");
  a.mail_host = first_value(account, settings.mail_host_attribute);
  a.id = first_value(account, "zimbraId");
  if (!settings.user_name_attribute.empty()) {
    a.user_name = first_value(account, settings.user_name_attribute);
  }
  a.use_external_route = schema::is_true(first_value(account, "zimbraReverseProxyUseExternalRoute"));
  return a;
}

DomainSettings compute_domain_settings(const provisioning::Entry& domain) {
  DomainSettings d;
  d.allowed_ips = domain.values("zimbraDomainAllowedIPs");
  d.use_external_route = schema::is_true(first_value(domain, "zimbraReverseProxyUseExternalRoute"));
  return d;
}

ServerSettings compute_server_settings(const RouteIndex& index, const provisioning::Entry* server) {
  static const provisioning::Entry k_no_entry;
  const provisioning::Entry& srv = server != nullptr ? *server : k_no_entry;
  ServerSettings s;
  for (std::size_t kind = 0; kind < k_port_kinds; ++kind) {
    s.port[kind] = port_number(index.server_value(srv, index.global_value(k_port_attributes[kind])));
  }
  for (std::string& host : index.server_values(srv, "zimbraReverseProxyUpstreamImapServers")) {
    const provisioning::Entry* member = index.server_by_service_hostname(host);
    const provisioning::Entry& m = member != nullptr ? *member : k_no_entry;
    s.imap_pool.push_back(PoolMember{std::move(host),
                                     port_number(index.server_value(m, "zimbraRemoteImapBindPort")),
                                     port_number(index.server_value(m, "zimbraRemoteImapSSLBindPort"))});
  }
  s.resolve_host = schema::is_true(index.server_value(srv, "zimbraReverseProxyDnsLookupInServerEnabled"));
  s.ip_mode = index.server_value(srv, "zimbraIPMode");
  return s;
}

}  // namespace zmproxy::route

#include "lib/route/route_diff.hpp"

#include "lib/core/strings.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <string>

namespace zmproxy::route {

namespace {

// FNV-1a over every value added, each followed by a separator byte, so
// that ("ab","c") and ("a","bc") differ.
class Hasher {
 public:
  void add(std::string_view text) noexcept {
    for (const char c : text) {
      byte(static_cast<unsigned char>(c));
    }
    byte(0xff);
  }
  void add(std::uint64_t n) noexcept {
    for (int i = 0; i < 8; ++i) {
      byte(static_cast<unsigned char>(n >> (8 * i)));
    }
  }
  // Every value of `attr` (none: one marker, so an attribute that appears
  // or goes away changes the hash).
  void add_values(const Entry& e, std::string_view attr) noexcept {
    add(attr);
    if (const auto* values = e.values(attr)) {
      for (const auto& v : *values) {
        add(v);
      }
    } else {
      byte(0xfe);
    }
  }
  std::uint64_t value() const noexcept { return m_hash; }

 private:
  void byte(unsigned char c) noexcept {
    m_hash ^= c;
    m_hash *= 1099511628211ULL;
  }
  std::uint64_t m_hash = 14695981039346656037ULL;
};

constexpr std::array<std::string_view, 8> k_external_attrs = {
    "zimbraExternalImapHostname",    "zimbraExternalImapPort",    "zimbraExternalImapSSLHostname",
    "zimbraExternalImapSSLPort",     "zimbraExternalPop3Hostname", "zimbraExternalPop3Port",
    "zimbraExternalPop3SSLHostname", "zimbraExternalPop3SSLPort",
};

constexpr std::array<std::string_view, 7> k_account_attrs = {
    "zimbraId",           "zimbraMailDeliveryAddress",   "zimbraMailAlias",
    "zimbraAccountStatus", "zimbraReverseProxyUseExternalRoute", "zimbraIsAdminAccount",
    "zimbraIsDelegatedAdminAccount",
};

constexpr std::array<std::string_view, 10> k_domain_attrs = {
    "zimbraDomainName",
    "zimbraId",
    "zimbraDomainType",
    "zimbraDomainAliasTargetId",
    "zimbraDomainAllowedIPs",
    "zimbraVirtualIPAddress",
    "zimbraVirtualHostname",
    "zimbraReverseProxyUseExternalRoute",
    "zimbraReverseProxyUseExternalRouteIfAccountNotExist",
    "zimbraReverseProxyExternalRouteIncludeOriginalAuthusername",
};

bool is_name_byte(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == ';';
}

// The attribute names an LDAP filter tests: "(name=", "(name~=",
// "(name>=", "(name<=", "(name:". A non-default lookup query may route by
// any of them.
std::vector<std::string> filter_attributes(std::string_view filter) {
  std::vector<std::string> out;
  for (std::size_t i = filter.find('('); i != std::string_view::npos; i = filter.find('(', i + 1)) {
    std::size_t end = i + 1;
    while (end < filter.size() && is_name_byte(filter[end])) {
      ++end;
    }
    if (end > i + 1 && end < filter.size() && std::string_view("=~<>:").find(filter[end]) != std::string_view::npos) {
      out.emplace_back(filter.substr(i + 1, end - i - 1));
    }
  }
  return out;
}

std::uint64_t server_print(const ServerSettings& s) {
  Hasher h;
  for (const int port : s.port) {
    h.add(static_cast<std::uint64_t>(port));
  }
  for (const PoolMember& m : s.imap_pool) {
    h.add(m.host);
    h.add(static_cast<std::uint64_t>(m.imap_port));
    h.add(static_cast<std::uint64_t>(m.imapssl_port));
  }
  h.add(static_cast<std::uint64_t>(s.resolve_host));
  h.add(s.ip_mode);
  return h.value();
}

// What every answer depends on: the global lookup settings, the servers'
// defaults, zmlookupd's own host resolution; with a non-default port query
// (which server an account's host names is then a search), every server.
std::uint64_t global_print(const RouteIndex& index, std::string_view handler_server) {
  const LookupSettings& s = index.settings();
  Hasher h;
  h.add(s.mail_host_query);
  h.add(s.port_query);
  h.add(s.domain_query);
  h.add(s.mail_host_attribute);
  h.add(s.user_name_attribute);
  h.add(static_cast<std::uint64_t>(s.include_original_user));
  h.add(s.default_domain);
  h.add(server_print(index.server_settings(nullptr)));
  const ServerSettings& self = index.server_settings(index.server_by_name(handler_server));
  h.add(static_cast<std::uint64_t>(self.resolve_host));
  h.add(self.ip_mode);
  if (!s.port_query.empty()) {
    for (const Entry& server : index.servers()) {
      h.add(server_print(index.server_settings(&server)));
      for (const std::string& attr : filter_attributes(s.port_query)) {
        h.add_values(server, attr);
      }
    }
  }
  return h.value();
}

std::size_t position_of(const std::vector<Entry>& among, const Entry* e) {
  return e == nullptr ? among.size() : static_cast<std::size_t>(e - among.data());
}

// Each domain's print: its routing values, plus the names of the alias
// domains that point to it (their addresses are its accounts' purge keys).
std::vector<std::uint64_t> domain_prints(const RouteIndex& index) {
  const auto& domains = index.domains();
  const std::vector<std::string> query_attrs = filter_attributes(index.settings().domain_query);
  std::vector<std::uint64_t> prints(domains.size());
  for (std::size_t i = 0; i < domains.size(); ++i) {
    Hasher h;
    for (const std::string_view attr : k_domain_attrs) {
      h.add_values(domains[i], attr);
    }
    for (const std::string_view attr : k_external_attrs) {
      h.add_values(domains[i], attr);
    }
    for (const std::string& attr : query_attrs) {
      h.add_values(domains[i], attr);
    }
    prints[i] = h.value();
  }
  for (const Entry& d : domains) {
    if (!core::iequals(d.first("zimbraDomainType"), "alias")) {
      continue;
    }
    const std::size_t target = position_of(domains, index.domain_by_id(d.first("zimbraDomainAliasTargetId")));
    if (target < prints.size()) {
      Hasher h;
      h.add(core::to_lower(d.first("zimbraDomainName")));
      prints[target] += h.value();  // a sum: the alias domains' order does not matter
    }
  }
  return prints;
}

std::string_view first_of(const Entry& e, std::string_view attr) {
  const auto* v = e.values(attr);
  return v == nullptr ? std::string_view() : std::string_view(v->front());
}

}  // namespace

std::vector<AccountPrint> account_prints(const RouteIndex& index, std::string_view handler_server) {
  const LookupSettings& settings = index.settings();
  const std::uint64_t global = global_print(index, handler_server);
  const std::vector<std::uint64_t> domains = domain_prints(index);
  std::vector<std::uint64_t> servers;
  servers.reserve(index.servers().size() + 1);
  for (const Entry& server : index.servers()) {
    servers.push_back(server_print(index.server_settings(&server)));
  }
  servers.push_back(server_print(index.server_settings(nullptr)));  // no such server
  std::vector<std::string> account_attrs = filter_attributes(settings.mail_host_query);
  account_attrs.push_back(settings.mail_host_attribute);
  if (!settings.user_name_attribute.empty()) {
    account_attrs.push_back(settings.user_name_attribute);
  }

  const auto& accounts = index.accounts();
  std::vector<AccountPrint> out;
  out.reserve(accounts.size());
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    const Entry& a = accounts[i];
    Hasher h;
    h.add(global);
    for (const std::string_view attr : k_account_attrs) {
      h.add_values(a, attr);
    }
    for (const std::string_view attr : k_external_attrs) {
      h.add_values(a, attr);
    }
    for (const std::string& attr : account_attrs) {
      h.add_values(a, attr);
    }
    const std::string_view name = first_of(a, "zimbraMailDeliveryAddress");
    if (const auto at = name.find('@'); at != std::string_view::npos) {
      const std::size_t d = position_of(index.domains(), index.domain_by_name(name.substr(at + 1)));
      h.add(d < domains.size() ? domains[d] : 0);
    }
    if (settings.port_query.empty()) {
      const std::string_view host = first_of(a, settings.mail_host_attribute);
      const std::size_t s = position_of(index.servers(), index.server_by_service_hostname(host));
      h.add(servers[std::min(s, servers.size() - 1)]);
    }
    const std::string_view id = first_of(a, "zimbraId");
    out.push_back(AccountPrint{NameTable::hash(id.empty() ? name : id), h.value(), static_cast<std::uint32_t>(i)});
  }
  std::sort(out.begin(), out.end(), [](const AccountPrint& x, const AccountPrint& y) {
    return x.key != y.key ? x.key < y.key : x.print < y.print;
  });
  return out;
}

RouteChanges diff_prints(const std::vector<AccountPrint>& before, const std::vector<AccountPrint>& after) {
  RouteChanges c;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < before.size() || j < after.size()) {
    if (j == after.size() || (i < before.size() && before[i].key < after[j].key)) {
      c.before.push_back(before[i++].position);  // gone
      ++c.accounts;
    } else if (i == before.size() || after[j].key < before[i].key) {
      c.after.push_back(after[j++].position);  // new
      ++c.accounts;
    } else {
      if (before[i].print != after[j].print) {
        c.before.push_back(before[i].position);
        c.after.push_back(after[j].position);
        ++c.accounts;
      }
      ++i;
      ++j;
    }
  }
  return c;
}

}  // namespace zmproxy::route

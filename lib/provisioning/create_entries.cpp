// Provisioning's creates: the base entries, domains (with their dc= parents
// and ou=people), alias domains, servers and accounts, each with the
// attributes provisioning sets itself (zimbraId, zimbraCreateTimestamp, ...)
// and the caller's checked ones.

#include "lib/core/strings.hpp"
#include "lib/provisioning/dn.hpp"
#include "lib/provisioning/password.hpp"
#include "lib/provisioning/provisioning.hpp"

#include <algorithm>
#include <ctime>

namespace zmproxy::provisioning {

namespace {

std::string now_generalized_time() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%SZ", &tm);
  return buf;
}

bool valid_domain_name(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.' ||
      name.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
  });
}

}  // namespace

Result<void> Provisioning::ensure_base() {
  const struct {
    std::string_view dn;
    std::string_view cn;
    std::string_view oc;
  } base[] = {{"cn=zimbra", "zimbra", "organizationalRole"},
              {k_servers_dn, "servers", "organizationalRole"},
              {k_config_dn, "config", "zimbraGlobalConfig"}};
  for (const auto& b : base) {
    auto existing = m_dir.get(b.dn);
    if (!existing) {
      return service_error(existing.error());
    }
    if (*existing) {
      continue;
    }
    Entry e{std::string(b.dn), {}};
    e.attrs["objectClass"] = {std::string(b.oc)};
    e.attrs["cn"] = {std::string(b.cn)};
    if (auto r = m_dir.add(e); !r && r.error().code != Errc::already_exists) {
      return service_error(r.error());
    }
  }
  return {};
}

Result<void> Provisioning::ensure_dn_chain(std::string_view dn) {
  // Create missing dc= parents of a domain (dc=com for dc=example,dc=com), as
  // organization + dcObject entries, top-down.
  const auto rdns = split_dn(dn);
  for (std::size_t n = rdns.size(); n-- > 1;) {
    std::string parent;
    for (std::size_t i = n; i < rdns.size(); ++i) {
      parent += (parent.empty() ? "" : ",") + rdns[i];
    }
    auto e = m_dir.get(parent);
    if (!e) {
      return service_error(e.error());
    }
    if (*e) {
      continue;
    }
    const std::string& rdn = rdns[n];
    const std::string label = rdn.substr(rdn.find('=') + 1);
    Entry p{parent, {}};
    p.attrs["objectClass"] = {"dcObject", "organization"};
    p.attrs["dc"] = {label};
    p.attrs["o"] = {label};
    if (auto r = m_dir.add(p); !r && r.error().code != Errc::already_exists) {
      return service_error(r.error());
    }
  }
  return {};
}

Result<Entry> Provisioning::create_domain(std::string_view raw_name,
                                          const std::vector<AttrChange>& attrs) {
  const std::string name = core::to_lower(raw_name);
  if (!valid_domain_name(name)) {
    return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                "invalid domain name: " + std::string(raw_name));
  }
  const std::string dn = domain_to_dn(name);
  auto existing = m_dir.get(dn);
  if (!existing) {
    return service_error(existing.error());
  }
  if (*existing && (*existing)->has_object_class("zimbraDomain")) {
    return fail(Errc::already_exists, "account.DOMAIN_EXISTS", "domain already exists: " + name);
  }
  auto mods = to_modifications(Kind::domain, nullptr, attrs, m_safeguarded, true);
  if (!mods) {
    return tl::unexpected(mods.error());
  }
  Entry e{dn, {}};
  e.attrs["objectClass"] = {"dcObject", "organization", "zimbraDomain"};
  e.attrs["dc"] = {name.substr(0, name.find('.'))};
  e.attrs["o"] = {name + " domain"};
  e.attrs["zimbraDomainName"] = {name};
  e.attrs["zimbraDomainType"] = {"local"};
  e.attrs["zimbraDomainStatus"] = {"active"};
  e.attrs["zimbraId"] = {random_uuid()};
  e.attrs["zimbraCreateTimestamp"] = {now_generalized_time()};
  apply_modifications(e.attrs, *mods);
  ZMPROXY_TRY(ensure_base());
  ZMPROXY_TRY(ensure_dn_chain(dn));
  if (*existing) {
    // A dc= entry made earlier as a parent becomes a domain.
    std::vector<Modification> upgrade;
    for (const auto& [k, v] : e.attrs) {
      upgrade.push_back({ModOp::replace, k, v});
    }
    if (auto r = m_dir.modify(dn, upgrade); !r) {
      return service_error(r.error());
    }
  } else if (auto r = m_dir.add(e); !r) {
    return r.error().code == Errc::already_exists
               ? fail(Errc::already_exists, "account.DOMAIN_EXISTS",
                      "domain already exists: " + name)
               : service_error(r.error());
  }
  Entry people{"ou=people," + dn, {}};
  people.attrs["objectClass"] = {"organizationalUnit"};
  people.attrs["ou"] = {"people"};
  if (auto r = m_dir.add(people); !r && r.error().code != Errc::already_exists) {
    return service_error(r.error());
  }
  audit("create", name, {}, e.attrs);
  return e;
}

Result<Entry> Provisioning::create_alias_domain(std::string_view alias,
                                                std::string_view target,
                                                const std::vector<AttrChange>& attrs) {
  auto t = get(Kind::domain, target);
  if (!t) {
    return tl::unexpected(t.error());
  }
  if (t->first("zimbraDomainType") == "alias") {
    return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                "target " + std::string(target) + " is itself an alias domain");
  }
  auto created = create_domain(alias, attrs);
  if (!created) {
    return created;
  }
  const std::vector<Modification> mods = {
      {ModOp::replace, "zimbraDomainType", {"alias"}},
      {ModOp::replace, "zimbraDomainAliasTargetId", {t->first("zimbraId")}}};
  if (auto r = m_dir.modify(created->dn, mods); !r) {
    return service_error(r.error());
  }
  apply_modifications(created->attrs, mods);
  return created;
}

Result<Entry> Provisioning::create_server(std::string_view name,
                                          const std::vector<AttrChange>& attrs) {
  if (name.empty() || !valid_domain_name(core::to_lower(name))) {
    return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                "invalid server name: " + std::string(name));
  }
  auto mods = to_modifications(Kind::server, nullptr, attrs, m_safeguarded, true);
  if (!mods) {
    return tl::unexpected(mods.error());
  }
  ZMPROXY_TRY(ensure_base());
  Entry e{server_dn(name), {}};
  e.attrs["objectClass"] = {"zimbraServer"};
  e.attrs["cn"] = {std::string(name)};
  e.attrs["zimbraServiceHostname"] = {std::string(name)};
  e.attrs["zimbraId"] = {random_uuid()};
  e.attrs["zimbraCreateTimestamp"] = {now_generalized_time()};
  apply_modifications(e.attrs, *mods);
  if (auto r = m_dir.add(e); !r) {
    return r.error().code == Errc::already_exists
               ? fail(Errc::already_exists, "account.SERVER_EXISTS",
                      "server already exists: " + std::string(name))
               : service_error(r.error());
  }
  audit("create", std::string(name), {}, e.attrs);
  return e;
}

Result<Entry> Provisioning::create_account(std::string_view raw_name,
                                           std::string_view password,
                                           const std::vector<AttrChange>& attrs) {
  const std::string name = core::to_lower(raw_name);
  const auto at = name.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == name.size() ||
      name.find('@', at + 1) != std::string::npos) {
    return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                "invalid account name: " + std::string(raw_name) + " (expected user@domain)");
  }
  const std::string local = name.substr(0, at);
  const std::string domain_name = name.substr(at + 1);
  auto domain = get(Kind::domain, domain_name);
  if (!domain) {
    return tl::unexpected(domain.error());
  }
  if (domain->first("zimbraDomainType") == "alias") {
    return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                domain_name + " is an alias domain; create the account in its target domain");
  }
  auto existing = find_account(name);
  if (!existing) {
    return tl::unexpected(existing.error());
  }
  if (*existing) {
    return fail(Errc::already_exists, "account.ACCOUNT_EXISTS",
                "email address already exists: " + name);
  }
  auto mods = to_modifications(Kind::account, nullptr, attrs, m_safeguarded, true);
  if (!mods) {
    return tl::unexpected(mods.error());
  }
  Entry e{account_dn(local, domain_name), {}};
  e.attrs["objectClass"] = {"inetOrgPerson", "zimbraAccount"};
  e.attrs["uid"] = {local};
  e.attrs["cn"] = {local};
  e.attrs["sn"] = {local};
  e.attrs["zimbraId"] = {random_uuid()};
  e.attrs["zimbraMailDeliveryAddress"] = {name};
  e.attrs["zimbraAccountStatus"] = {"active"};
  e.attrs["zimbraCreateTimestamp"] = {now_generalized_time()};
  apply_modifications(e.attrs, *mods);
  if (!password.empty()) {
    e.attrs["userPassword"] = {hash_password(password)};
  }
  if (auto r = m_dir.add(e); !r) {
    return r.error().code == Errc::already_exists
               ? fail(Errc::already_exists, "account.ACCOUNT_EXISTS",
                      "email address already exists: " + name)
               : service_error(r.error());
  }
  audit("create", name, {}, e.attrs);
  return e;
}

}  // namespace zmproxy::provisioning

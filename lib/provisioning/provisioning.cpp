#include "lib/provisioning/provisioning.hpp"

#include "lib/core/strings.hpp"
#include "lib/provisioning/dn.hpp"
#include "lib/provisioning/filter.hpp"
#include "lib/provisioning/password.hpp"

#include <algorithm>

namespace zmproxy::provisioning {

namespace {

using schema::Attribute;

tl::unexpected<Error> no_such(Kind k, std::string_view key) {
  switch (k) {
    case Kind::account:
      return fail(Errc::not_found, "account.NO_SUCH_ACCOUNT", "no such account: " + std::string(key));
    case Kind::domain:
      return fail(Errc::not_found, "account.NO_SUCH_DOMAIN", "no such domain: " + std::string(key));
    case Kind::server:
      return fail(Errc::not_found, "account.NO_SUCH_SERVER", "no such server: " + std::string(key));
    case Kind::global:
      break;
  }
  return fail(Errc::not_found, "service.FAILURE", "no global config entry " + std::string(k_config_dn));
}

}  // namespace

AuditSink audit_sink(log::AuditLog& audit, std::string tool, std::ostream& err) {
  return
      [&audit, tool = std::move(tool), &err, warned = false](
          std::string_view op, std::string_view entry, const std::vector<AttrDiff>& diffs) mutable {
        std::vector<log::AuditChange> changes;
        changes.reserve(diffs.size());
        for (const auto& d : diffs) {
          changes.push_back({d.attr, d.before, d.after, d.secret});
        }
        if (!audit.record(op, entry, changes) && !warned) {
          err << tool << ": warning: cannot write the audit log " << audit.file().string()
              << "; the change was made\n";
          warned = true;
        }
      };
}

Provisioning::Provisioning(Directory& directory, std::vector<std::string> safeguarded)
    : m_dir(directory), m_safeguarded(std::move(safeguarded)) {}

std::string Provisioning::name_of(const Entry& e, Kind kind) {
  switch (kind) {
    case Kind::global: return "globalConfig";
    case Kind::server: return e.first("cn");
    case Kind::domain: return e.first("zimbraDomainName");
    case Kind::account: return e.first("zimbraMailDeliveryAddress");
  }
  return e.dn;
}

Result<Entry> Provisioning::get_by_id(Kind kind, std::string_view id) {
  const std::string filter = "(&(objectClass=" + std::string(object_class(kind)) +
                             ")(zimbraId=" + escape_filter_value(core::to_lower(id)) + "))";
  auto found = m_dir.search("", Scope::subtree, filter, 1);
  if (!found) {
    return service_error(found.error());
  }
  if (found->empty()) {
    return no_such(kind, id);
  }
  return std::move(found->front());
}

Result<std::optional<Entry>> Provisioning::find_account(std::string_view address) {
  const auto at = address.find('@');
  auto direct = m_dir.get(account_dn(address.substr(0, at), address.substr(at + 1)));
  if (!direct) {
    return service_error(direct.error());
  }
  if (*direct && core::iequals(direct->value().first("zimbraMailDeliveryAddress"), address)) {
    return direct;
  }
  const std::string v = escape_filter_value(address);
  auto found = m_dir.search("", Scope::subtree,
                            "(&(objectClass=zimbraAccount)(|(zimbraMailDeliveryAddress=" + v +
                                ")(zimbraMailAlias=" + v + ")))",
                            1);
  if (!found) {
    return service_error(found.error());
  }
  if (found->empty()) {
    return std::optional<Entry>();
  }
  return std::optional<Entry>(std::move(found->front()));
}

Result<Entry> Provisioning::get_account(std::string_view key) {
  if (looks_like_id(key)) {
    return get_by_id(Kind::account, key);
  }
  std::string address = core::to_lower(key);
  if (address.find('@') == std::string::npos) {
    auto config = get(Kind::global, "");
    if (!config) {
      return config.error().code == Errc::not_found ? no_such(Kind::account, key)
                                                    : tl::unexpected(config.error());
    }
    const std::string def = config->first("zimbraDefaultDomainName");
    if (def.empty()) {
      return no_such(Kind::account, key);
    }
    address += "@" + core::to_lower(def);
  }
  auto found = find_account(address);
  if (!found) {
    return tl::unexpected(found.error());
  }
  if (*found) {
    return std::move(**found);
  }
  // An address in an alias domain: try the target domain.
  const auto at = address.find('@');
  auto domain = get(Kind::domain, address.substr(at + 1));
  if (domain && domain->first("zimbraDomainType") == "alias") {
    auto target = get_by_id(Kind::domain, domain->first("zimbraDomainAliasTargetId"));
    if (target) {
      auto again = find_account(address.substr(0, at) + "@" + target->first("zimbraDomainName"));
      if (!again) {
        return tl::unexpected(again.error());
      }
      if (*again) {
        return std::move(**again);
      }
    }
  }
  return no_such(Kind::account, key);
}

Result<Entry> Provisioning::get(Kind kind, std::string_view key) {
  if (kind == Kind::account) {
    return get_account(key);
  }
  if (kind != Kind::global && looks_like_id(key)) {
    return get_by_id(kind, key);
  }
  std::string dn;
  switch (kind) {
    case Kind::global: dn = k_config_dn; break;
    case Kind::server: dn = server_dn(key); break;
    case Kind::domain: dn = domain_to_dn(core::to_lower(key)); break;
    case Kind::account: break;
  }
  if (kind != Kind::global && key.empty()) {
    return no_such(kind, key);
  }
  auto e = m_dir.get(dn);
  if (!e) {
    return service_error(e.error());
  }
  if (!*e || !(*e)->has_object_class(object_class(kind))) {
    return no_such(kind, key);
  }
  return std::move(**e);
}

void Provisioning::audit(std::string_view op, const std::string& name, const AttrMap& before,
                         const AttrMap& after) const {
  if (!m_audit) {
    return;
  }
  std::vector<AttrDiff> diffs;
  auto diff_one = [&](const std::string& attr) {
    const auto b = before.find(attr);
    const auto a = after.find(attr);
    Values bv = b == before.end() ? Values{} : b->second;
    Values av = a == after.end() ? Values{} : a->second;
    if (bv != av) {
      const Attribute* info = schema::find(attr);
      diffs.push_back({attr, std::move(bv), std::move(av), info != nullptr && info->secret});
    }
  };
  for (const auto& [k, v] : before) {
    diff_one(k);
  }
  for (const auto& [k, v] : after) {
    if (before.find(k) == before.end()) {
      diff_one(k);
    }
  }
  if (!diffs.empty()) {
    m_audit(op, name, diffs);
  }
}

Result<void> Provisioning::modify(Kind kind, std::string_view key,
                                  const std::vector<AttrChange>& changes, bool allow_replace) {
  auto current = get(kind, key);
  if (!current && kind == Kind::global && current.error().code == Errc::not_found) {
    current = Entry{std::string(k_config_dn), {}};  // created below, once the change is valid
  }
  if (!current) {
    return tl::unexpected(current.error());
  }
  auto mods = to_modifications(kind, &*current, changes, m_safeguarded, allow_replace);
  if (!mods) {
    return tl::unexpected(mods.error());
  }
  if (mods->empty()) {
    return {};
  }
  if (kind == Kind::global) {
    ZMPROXY_TRY(ensure_base());
  }
  return modify_entry(*current, kind, *mods);
}

Result<void> Provisioning::modify_entry(const Entry& entry,
                                        Kind kind,
                                        const std::vector<Modification>& mods) {
  if (auto r = m_dir.modify(entry.dn, mods); !r) {
    return service_error(r.error());
  }
  AttrMap after = entry.attrs;
  apply_modifications(after, mods);
  audit("modify", name_of(entry, kind), entry.attrs, after);
  return {};
}

Result<void> Provisioning::remove(Kind kind, std::string_view key) {
  if (kind == Kind::global) {
    return fail(Errc::invalid_argument, "service.INVALID_REQUEST", "the global config cannot be deleted");
  }
  auto current = get(kind, key);
  if (!current) {
    return tl::unexpected(current.error());
  }
  const std::string name = name_of(*current, kind);
  if (kind == Kind::domain) {
    auto accounts = m_dir.search("ou=people," + current->dn, Scope::one, "(objectClass=*)", 1);
    if (accounts && !accounts->empty()) {
      return fail(Errc::invalid_argument, "account.DOMAIN_NOT_EMPTY", "domain not empty: " + name);
    }
    const std::string id = current->first("zimbraId");
    auto aliases = m_dir.search("", Scope::subtree,
                                "(&(objectClass=zimbraDomain)(zimbraDomainAliasTargetId=" +
                                    escape_filter_value(id) + "))",
                                1);
    if (aliases && !aliases->empty()) {
      return fail(Errc::invalid_argument, "account.DOMAIN_NOT_EMPTY",
                  "domain " + name + " is the target of alias domain " +
                      aliases->front().first("zimbraDomainName") + "; delete that first");
    }
    if (auto r = m_dir.remove("ou=people," + current->dn); !r && r.error().code != Errc::not_found) {
      return service_error(r.error());
    }
  }
  if (auto r = m_dir.remove(current->dn); !r) {
    return service_error(r.error());
  }
  audit("delete", name, current->attrs, {});
  return {};
}

Result<std::vector<Entry>> Provisioning::list(Kind kind, std::string_view scope) {
  std::string base;
  std::string filter = "(objectClass=" + std::string(object_class(kind)) + ")";
  if (kind == Kind::account && !scope.empty()) {
    auto d = get(Kind::domain, scope);
    if (!d) {
      return tl::unexpected(d.error());
    }
    base = d->dn;
  } else if (kind == Kind::server && !scope.empty()) {
    filter = "(&" + filter + "(zimbraServiceEnabled=" + escape_filter_value(scope) + "))";
  }
  if (kind == Kind::server) {
    base = k_servers_dn;
  }
  auto found = m_dir.search(base, Scope::subtree, filter);
  if (!found) {
    if (found.error().code == Errc::not_found && kind == Kind::server) {
      return std::vector<Entry>{};  // no cn=servers yet
    }
    return service_error(found.error());
  }
  std::sort(found->begin(), found->end(), [&](const Entry& a, const Entry& b) {
    return name_of(a, kind) < name_of(b, kind);
  });
  return found;
}

Result<std::vector<Entry>> Provisioning::search_accounts(std::string_view query,
                                                         std::string_view domain,
                                                         std::size_t limit) {
  std::string q(core::trim(query));
  if (!q.empty() && q.front() != '(') {
    q = "(" + q + ")";
  }
  if (auto parsed = parse_filter(q); !parsed) {
    return fail(Errc::invalid_argument, "service.INVALID_REQUEST", parsed.error().message);
  }
  std::string base;
  if (!domain.empty()) {
    auto d = get(Kind::domain, domain);
    if (!d) {
      return tl::unexpected(d.error());
    }
    base = d->dn;
  }
  auto found = m_dir.search(base, Scope::subtree, "(&(objectClass=zimbraAccount)" + q + ")", limit);
  if (!found) {
    return service_error(found.error());
  }
  std::sort(found->begin(), found->end(), [](const Entry& a, const Entry& b) {
    return name_of(a, Kind::account) < name_of(b, Kind::account);
  });
  return found;
}

Result<void> Provisioning::add_alias(std::string_view account, std::string_view raw_alias) {
  const std::string alias = core::to_lower(raw_alias);
  const auto at = alias.find('@');
  if (at == std::string::npos || at == 0) {
    return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                "invalid alias: " + std::string(raw_alias) + " (expected user@domain)");
  }
  auto acct = get(Kind::account, account);
  if (!acct) {
    return tl::unexpected(acct.error());
  }
  auto domain = get(Kind::domain, alias.substr(at + 1));
  if (!domain) {
    return tl::unexpected(domain.error());
  }
  auto taken = find_account(alias);
  if (!taken) {
    return tl::unexpected(taken.error());
  }
  if (*taken) {
    return fail(Errc::already_exists, "account.ACCOUNT_EXISTS", "email address already exists: " + alias);
  }
  const std::vector<Modification> mods = {{ModOp::add, "zimbraMailAlias", {alias}}};
  return modify_entry(*acct, Kind::account, mods);
}

Result<void> Provisioning::remove_alias(std::string_view account, std::string_view raw_alias) {
  const std::string alias = core::to_lower(raw_alias);
  auto acct = get(Kind::account, account);
  if (!acct) {
    return tl::unexpected(acct.error());
  }
  const Values* aliases = acct->values("zimbraMailAlias");
  if (aliases == nullptr || std::find(aliases->begin(), aliases->end(), alias) == aliases->end()) {
    return fail(Errc::not_found, "account.NO_SUCH_ALIAS", "no such alias: " + alias);
  }
  const std::vector<Modification> mods = {{ModOp::remove, "zimbraMailAlias", {alias}}};
  return modify_entry(*acct, Kind::account, mods);
}

Result<void> Provisioning::set_password(std::string_view account, std::string_view password) {
  auto acct = get(Kind::account, account);
  if (!acct) {
    return tl::unexpected(acct.error());
  }
  if (password.empty()) {
    return fail(Errc::invalid_argument, "account.INVALID_PASSWORD", "invalid password: empty");
  }
  const std::vector<Modification> mods = {{ModOp::replace, "userPassword", {hash_password(password)}}};
  return modify_entry(*acct, Kind::account, mods);
}

Result<Values> Provisioning::effective(const Entry& entry, Kind kind, std::string_view attr) {
  if (const Values* own = entry.values(attr)) {
    return *own;
  }
  const Attribute* a = schema::find(attr);
  if (a == nullptr) {
    return Values{};
  }
  if (kind != Kind::global && a->inherits(kind)) {
    auto config = get(Kind::global, "");
    if (config) {
      if (const Values* g = config->values(attr)) {
        return *g;
      }
    } else if (config.error().code != Errc::not_found) {
      return tl::unexpected(config.error());
    }
  }
  if (kind == Kind::global || a->inherits(kind)) {
    return Values(a->defaults.begin(), a->defaults.end());
  }
  return Values{};
}

}  // namespace zmproxy::provisioning

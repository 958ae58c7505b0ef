#include "lib/provisioning/provisioning.hpp"

#include <algorithm>
#include <ctime>

#include "lib/core/strings.hpp"
#include "lib/provisioning/dn.hpp"
#include "lib/provisioning/filter.hpp"
#include "lib/provisioning/password.hpp"
#include "lib/schema/value.hpp"

namespace zmproxy::provisioning {

AuditSink audit_sink(log::AuditLog& audit, std::string tool, std::ostream& err) {
  return [&audit, tool = std::move(tool), &err, warned = false](
             std::string_view op, std::string_view entry, const std::vector<AttrDiff>& diffs) mutable {
    std::vector<log::AuditChange> changes;
    changes.reserve(diffs.size());
    for (const auto& d : diffs) {
      changes.push_back({d.attr, d.before, d.after, d.secret});
    }
    if (!audit.record(op, entry, changes) && !warned) {
      err << tool << ": warning: cannot write the audit log " << audit.file().string() << "; the change was made\n";
      warned = true;
    }
  };
}

namespace {

using schema::Attribute;

std::string_view kind_word(Kind k) {
  switch (k) {
    case Kind::global: return "globalConfig";
    case Kind::server: return "server";
    case Kind::domain: return "domain";
    case Kind::account: return "account";
  }
  return "entry";
}

std::string_view object_class(Kind k) {
  switch (k) {
    case Kind::global: return "zimbraGlobalConfig";
    case Kind::server: return "zimbraServer";
    case Kind::domain: return "zimbraDomain";
    case Kind::account: return "zimbraAccount";
  }
  return "top";
}

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

// Errors from the directory keep their text; give them Zimbra's generic code.
tl::unexpected<Error> service(Error e) {
  if (e.zimbra_code.empty()) {
    e.zimbra_code = e.code == Errc::invalid_argument ? "service.INVALID_REQUEST" : "service.FAILURE";
  }
  return tl::unexpected(std::move(e));
}

std::string now_generalized_time() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%SZ", &tm);
  return buf;
}

bool looks_like_id(std::string_view key) {
  return key.size() == 36 && key[8] == '-' && key[13] == '-' && key[18] == '-' && key[23] == '-';
}

std::string server_dn(std::string_view name) {
  return "cn=" + escape_dn_value(name) + "," + std::string(k_servers_dn);
}

std::string account_dn(std::string_view local, std::string_view domain) {
  return "uid=" + escape_dn_value(local) + ",ou=people," + domain_to_dn(domain);
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

// Immutable attributes: set by provisioning itself.
bool is_managed(std::string_view attr) {
  for (std::string_view a : {"zimbraId", "zimbraCreateTimestamp", "zimbraDomainName", "uid",
                             "zimbraMailDeliveryAddress", "zimbraDomainType",
                             "zimbraDomainAliasTargetId"}) {
    if (core::iequals(a, attr)) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<std::vector<AttrChange>> parse_attr_args(std::span<const std::string> args) {
  if (args.size() % 2 != 0) {
    return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                "attribute arguments come in name value pairs; '" + args.back() +
                    "' has no value (use '' to clear)");
  }
  std::vector<AttrChange> out;
  for (std::size_t i = 0; i < args.size(); i += 2) {
    std::string name = args[i];
    AttrChange::Op op = AttrChange::Op::set;
    if (!name.empty() && (name.front() == '+' || name.front() == '-')) {
      op = name.front() == '+' ? AttrChange::Op::add : AttrChange::Op::remove;
      name.erase(0, 1);
    }
    out.push_back({op, std::move(name), args[i + 1]});
  }
  return out;
}

Provisioning::Provisioning(Directory& directory, std::vector<std::string> safeguarded)
    : m_dir(directory), m_safeguarded(std::move(safeguarded)) {}

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
      return service(existing.error());
    }
    if (*existing) {
      continue;
    }
    Entry e{std::string(b.dn), {}};
    e.attrs["objectClass"] = {std::string(b.oc)};
    e.attrs["cn"] = {std::string(b.cn)};
    if (auto r = m_dir.add(e); !r && r.error().code != Errc::already_exists) {
      return service(r.error());
    }
  }
  return {};
}

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
    return service(found.error());
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
    return service(direct.error());
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
    return service(found.error());
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
    return service(e.error());
  }
  if (!*e || !(*e)->has_object_class(object_class(kind))) {
    return no_such(kind, key);
  }
  return std::move(**e);
}

Result<std::vector<Modification>> Provisioning::to_modifications(
    Kind kind, const Entry* current, const std::vector<AttrChange>& changes,
    bool allow_replace) const {
  struct Pending {
    const Attribute* attr;
    bool set = false;
    Values set_values;
    Values add;
    Values remove;
  };
  std::vector<Pending> pending;
  auto slot = [&](const Attribute* a) -> Pending& {
    for (Pending& p : pending) {
      if (p.attr == a) {
        return p;
      }
    }
    pending.push_back(Pending{a, false, {}, {}, {}});
    return pending.back();
  };
  for (const AttrChange& c : changes) {
    const Attribute* a = schema::find(c.attr);
    if (a == nullptr) {
      const auto hint = schema::suggest(c.attr);
      return fail(Errc::invalid_argument, "account.INVALID_ATTR_NAME",
                  "invalid attr name: " + c.attr +
                      (hint.empty() ? std::string() : "; did you mean " + std::string(hint) + "?"));
    }
    if (!a->allowed_on(kind)) {
      return fail(Errc::invalid_argument, "account.INVALID_ATTR_NAME",
                  std::string(a->name) + " cannot be set on a " + std::string(kind_word(kind)) +
                      "; it belongs on " + schema::kinds_text(a->kinds));
    }
    if (core::iequals(a->name, "userPassword")) {
      return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                  "userPassword cannot be set directly; use zmprov setPassword (sp)");
    }
    if (current != nullptr && is_managed(a->name)) {
      return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                  std::string(a->name) + " is maintained by zmprov and cannot be changed");
    }
    Pending& p = slot(a);
    if (c.op != AttrChange::Op::set && !a->multi) {
      return fail(Errc::invalid_argument, "account.INVALID_ATTR_VALUE",
                  std::string(a->name) + " is single-valued; set it with '" +
                      std::string(a->name) + " value' instead of " +
                      (c.op == AttrChange::Op::add ? "+" : "-") + std::string(a->name));
    }
    if (c.op == AttrChange::Op::set && c.value.empty()) {
      p.set = true;  // '' clears
      continue;
    }
    auto v = schema::normalize_value(*a, c.value);
    if (!v) {
      return fail(Errc::invalid_argument, "account.INVALID_ATTR_VALUE", v.error().message);
    }
    switch (c.op) {
      case AttrChange::Op::set:
        p.set = true;
        p.set_values.push_back(std::move(*v));
        break;
      case AttrChange::Op::add: p.add.push_back(std::move(*v)); break;
      case AttrChange::Op::remove: p.remove.push_back(std::move(*v)); break;
    }
  }
  std::vector<Modification> mods;
  for (Pending& p : pending) {
    const std::string name(p.attr->name);
    if (p.set) {
      if (!p.attr->multi && p.set_values.size() > 1) {
        return fail(Errc::invalid_argument, "account.INVALID_ATTR_VALUE",
                    name + " is single-valued but was given " +
                        std::to_string(p.set_values.size()) + " values");
      }
      const bool guarded = std::any_of(m_safeguarded.begin(), m_safeguarded.end(),
                                       [&](const std::string& g) { return core::iequals(g, name); });
      if (guarded && !allow_replace && current != nullptr && current->has(name) &&
          !p.set_values.empty()) {
        return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                    "cannot replace multi-valued attr value unless -r is specified (" + name +
                        "; use +" + name + " or -" + name + " to add or remove one value)");
      }
      mods.push_back({ModOp::replace, name, std::move(p.set_values)});
    }
    if (!p.remove.empty()) {
      mods.push_back({ModOp::remove, name, std::move(p.remove)});
    }
    if (!p.add.empty()) {
      mods.push_back({ModOp::add, name, std::move(p.add)});
    }
  }
  return mods;
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
      return service(e.error());
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
      return service(r.error());
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
    return service(existing.error());
  }
  if (*existing && (*existing)->has_object_class("zimbraDomain")) {
    return fail(Errc::already_exists, "account.DOMAIN_EXISTS", "domain already exists: " + name);
  }
  auto mods = to_modifications(Kind::domain, nullptr, attrs, true);
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
      return service(r.error());
    }
  } else if (auto r = m_dir.add(e); !r) {
    return r.error().code == Errc::already_exists
               ? fail(Errc::already_exists, "account.DOMAIN_EXISTS", "domain already exists: " + name)
               : service(r.error());
  }
  Entry people{"ou=people," + dn, {}};
  people.attrs["objectClass"] = {"organizationalUnit"};
  people.attrs["ou"] = {"people"};
  if (auto r = m_dir.add(people); !r && r.error().code != Errc::already_exists) {
    return service(r.error());
  }
  audit("create", name, {}, e.attrs);
  return e;
}

Result<Entry> Provisioning::create_alias_domain(std::string_view alias, std::string_view target,
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
    return service(r.error());
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
  auto mods = to_modifications(Kind::server, nullptr, attrs, true);
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
               : service(r.error());
  }
  audit("create", std::string(name), {}, e.attrs);
  return e;
}

Result<Entry> Provisioning::create_account(std::string_view raw_name, std::string_view password,
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
    return fail(Errc::already_exists, "account.ACCOUNT_EXISTS", "email address already exists: " + name);
  }
  auto mods = to_modifications(Kind::account, nullptr, attrs, true);
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
               : service(r.error());
  }
  audit("create", name, {}, e.attrs);
  return e;
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
  auto mods = to_modifications(kind, &*current, changes, allow_replace);
  if (!mods) {
    return tl::unexpected(mods.error());
  }
  if (mods->empty()) {
    return {};
  }
  if (kind == Kind::global) {
    ZMPROXY_TRY(ensure_base());
  }
  if (auto r = m_dir.modify(current->dn, *mods); !r) {
    return service(r.error());
  }
  AttrMap after = current->attrs;
  apply_modifications(after, *mods);
  audit("modify", name_of(*current, kind), current->attrs, after);
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
      return service(r.error());
    }
  }
  if (auto r = m_dir.remove(current->dn); !r) {
    return service(r.error());
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
    return service(found.error());
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
    return service(found.error());
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
  if (auto r = m_dir.modify(acct->dn, mods); !r) {
    return service(r.error());
  }
  AttrMap after = acct->attrs;
  apply_modifications(after, mods);
  audit("modify", name_of(*acct, Kind::account), acct->attrs, after);
  return {};
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
  if (auto r = m_dir.modify(acct->dn, mods); !r) {
    return service(r.error());
  }
  AttrMap after = acct->attrs;
  apply_modifications(after, mods);
  audit("modify", name_of(*acct, Kind::account), acct->attrs, after);
  return {};
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
  if (auto r = m_dir.modify(acct->dn, mods); !r) {
    return service(r.error());
  }
  AttrMap after = acct->attrs;
  apply_modifications(after, mods);
  audit("modify", name_of(*acct, Kind::account), acct->attrs, after);
  return {};
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

#pragma once
// Provisioning: Zimbra's entries — global config, servers, domains (and alias
// domains), accounts (and aliases) — over a Directory. Every write is checked
// against the attribute registry (name, type, range, cardinality, which entry
// kinds may carry it); reads offer effective values (server -> global,
// domain -> global, then the registry default). Failures carry Zimbra's
// service codes (account.NO_SUCH_ACCOUNT, ...). Not thread-safe.

#include "lib/core/result.hpp"
#include "lib/log/audit_log.hpp"
#include "lib/provisioning/attr_changes.hpp"
#include "lib/provisioning/directory.hpp"
#include "lib/provisioning/zimbra_tree.hpp"
#include "lib/schema/registry.hpp"

#include <functional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::provisioning {

using schema::Kind;

// What one write changed on one attribute, for the audit log.
struct AttrDiff {
  std::string attr;
  Values before;
  Values after;
  bool secret;
};
using AuditSink = std::function<void(std::string_view op, std::string_view entry,
                                     const std::vector<AttrDiff>& diffs)>;

// A sink that records every change in `audit`. The first record it cannot
// write prints one warning line, naming `tool`, to `err`; the change itself
// was made and stands.
AuditSink audit_sink(log::AuditLog& audit, std::string tool, std::ostream& err);

class Provisioning {
 public:
  // `safeguarded`: multi-valued attributes that a plain `attr value` may only
  // replace with allow_replace (localconfig zmprov_safeguarded_attrs).
  Provisioning(Directory& directory, std::vector<std::string> safeguarded);

  void set_audit(AuditSink sink) { m_audit = std::move(sink); }
  Directory& directory() { return m_dir; }

  // Create cn=zimbra, cn=servers and cn=config when missing.
  Result<void> ensure_base();

  // By name or zimbraId (accounts also by alias; a bare account name is
  // qualified with zimbraDefaultDomainName). Kind::global ignores `key`.
  Result<Entry> get(Kind kind, std::string_view key);
  // The entry's name: account address, domain name, server name, "globalConfig".
  static std::string name_of(const Entry& entry, Kind kind);

  Result<Entry> create_account(std::string_view name, std::string_view password,
                               const std::vector<AttrChange>& attrs);
  Result<Entry> create_domain(std::string_view name, const std::vector<AttrChange>& attrs);
  Result<Entry> create_alias_domain(std::string_view alias, std::string_view target,
                                    const std::vector<AttrChange>& attrs);
  Result<Entry> create_server(std::string_view name, const std::vector<AttrChange>& attrs);

  Result<void> modify(Kind kind, std::string_view key, const std::vector<AttrChange>& changes,
                      bool allow_replace_safeguarded);
  Result<void> remove(Kind kind, std::string_view key);

  // Accounts (all, or of one domain), domains, servers (all, or those with a
  // zimbraServiceEnabled value), sorted by name.
  Result<std::vector<Entry>> list(Kind kind, std::string_view scope = {});
  // Accounts matching an LDAP filter, optionally in one domain.
  Result<std::vector<Entry>> search_accounts(std::string_view filter, std::string_view domain,
                                             std::size_t limit);

  Result<void> add_alias(std::string_view account, std::string_view alias);
  Result<void> remove_alias(std::string_view account, std::string_view alias);
  Result<void> set_password(std::string_view account, std::string_view password);

  // The entry's own values, else the global config's where the registry says
  // the kind inherits, else the registry default (for global and inheriting
  // kinds). Empty when none.
  Result<Values> effective(const Entry& entry, Kind kind, std::string_view attr);

 private:
  Result<Entry> get_account(std::string_view key);
  Result<Entry> get_by_id(Kind kind, std::string_view id);
  Result<std::optional<Entry>> find_account(std::string_view address);
  Result<void> ensure_dn_chain(std::string_view dn);
  // `mods` written to `entry` (of `kind`) and audited as a modify.
  Result<void> modify_entry(const Entry& entry, Kind kind, const std::vector<Modification>& mods);
  void audit(std::string_view op, const std::string& name, const AttrMap& before,
             const AttrMap& after) const;

  Directory& m_dir;
  std::vector<std::string> m_safeguarded;
  AuditSink m_audit;
};

}  // namespace zmproxy::provisioning

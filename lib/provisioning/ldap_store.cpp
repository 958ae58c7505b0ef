#include "lib/provisioning/ldap_store.hpp"

#include "lib/provisioning/dn.hpp"
#include "lib/provisioning/ldap_connection.hpp"
#include "lib/provisioning/ldap_modify_plan.hpp"

#include <climits>
#include <ldap.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zmproxy::provisioning {
namespace {

struct BerFree {
  void operator()(BerElement* ber) const noexcept { ber_free(ber, 0); }
};
struct ValuesFree {
  void operator()(berval** values) const noexcept { ldap_value_free_len(values); }
};
using BerPtr = std::unique_ptr<BerElement, BerFree>;
using ValuesPtr = std::unique_ptr<berval*, ValuesFree>;

std::string quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

// LDAPMod arrays over borrowed strings. The strings must outlive the builder;
// libldap does not write through the non-const pointers its API asks for.
class ModList {
 public:
  void push(int op, const std::string& attr, const Values& values) {
    std::vector<berval>& bvs = m_values.emplace_back();
    for (const std::string& v : values) {
      bvs.push_back(berval{static_cast<ber_len_t>(v.size()), const_cast<char*>(v.data())});
    }
    std::vector<berval*>& ptrs = m_pointers.emplace_back();
    for (berval& bv : bvs) {
      ptrs.push_back(&bv);
    }
    ptrs.push_back(nullptr);
    LDAPMod& mod = m_mods.emplace_back();
    mod.mod_op = op | LDAP_MOD_BVALUES;
    mod.mod_type = const_cast<char*>(attr.c_str());
    mod.mod_bvalues = values.empty() ? nullptr : ptrs.data();
  }
  LDAPMod** get() {
    m_list.clear();
    for (LDAPMod& mod : m_mods) {
      m_list.push_back(&mod);
    }
    m_list.push_back(nullptr);
    return m_list.data();
  }

 private:
  std::deque<std::vector<berval>> m_values;
  std::deque<std::vector<berval*>> m_pointers;
  std::deque<LDAPMod> m_mods;
  std::vector<LDAPMod*> m_list;
};

Entry to_entry(LDAP* ld, LDAPMessage* msg) {
  Entry entry;
  if (const LdapMemPtr dn(ldap_get_dn(ld, msg)); dn != nullptr) {
    entry.dn = dn.get();
  }
  BerElement* raw_ber = nullptr;
  LdapMemPtr attr(ldap_first_attribute(ld, msg, &raw_ber));
  const BerPtr ber(raw_ber);
  for (; attr != nullptr; attr.reset(ldap_next_attribute(ld, msg, ber.get()))) {
    const ValuesPtr values(ldap_get_values_len(ld, msg, attr.get()));
    if (values == nullptr || values.get()[0] == nullptr) {
      continue;
    }
    Values& out = entry.attrs[attr.get()];
    for (berval** v = values.get(); *v != nullptr; ++v) {
      out.emplace_back((*v)->bv_val, (*v)->bv_len);
    }
  }
  return entry;
}

int ldap_scope(Scope scope) {
  switch (scope) {
    case Scope::base:
      return LDAP_SCOPE_BASE;
    case Scope::one:
      return LDAP_SCOPE_ONELEVEL;
    case Scope::subtree:
      break;
  }
  return LDAP_SCOPE_SUBTREE;
}

int ldap_op(ModOp op) {
  switch (op) {
    case ModOp::add:
      return LDAP_MOD_ADD;
    case ModOp::remove:
      return LDAP_MOD_DELETE;
    case ModOp::replace:
      break;
  }
  return LDAP_MOD_REPLACE;
}

}  // namespace

// The handle and the reconnect-and-retry-once policy. `settings` belongs to
// the owning LdapStore, which never moves.
struct LdapStore::Connection {
  explicit Connection(const LdapSettings& s) : settings(s) {}

  const LdapSettings& settings;
  LdapPtr ld;

  LDAP* handle() const { return ld.get(); }

  // The handle (ldap_connection.hpp), StartTLS and the simple bind.
  Result<void> open() {
    ld.reset();
    auto fresh = open_ldap_handle(settings, LdapTimeouts::operations);
    if (!fresh) {
      return tl::unexpected(fresh.error());
    }
    LDAP* h = fresh->ld.get();
    if (fresh->policy.start_tls) {
      ZMPROXY_TRY(start_ldap_tls(h, settings));
    }
    berval cred = ldap_bind_password(settings);
    const int rc = ldap_sasl_bind_s(h, ldap_bind_dn(settings), LDAP_SASL_SIMPLE, &cred, nullptr,
                                    nullptr, nullptr);
    if (is_ldap_connection_error(rc)) {
      return tl::unexpected(ldap_unreachable(settings, h, rc));
    }
    if (rc != LDAP_SUCCESS) {
      return tl::unexpected(ldap_bind_refused(settings, rc, ldap_reason(h, rc)));
    }
    ld = std::move(fresh->ld);
    return {};
  }

  // op(ld), with no diagnostic text left over from an earlier operation
  // (libldap keeps it on the handle, and local errors do not reset it).
  template <typename Op>
  int call(Op& op) {
    ldap_set_option(ld.get(), LDAP_OPT_DIAGNOSTIC_MESSAGE, nullptr);
    return op(ld.get());
  }

  // Run `op(LDAP*) -> rc`; on a connection failure reconnect, rebind and run
  // it once more. Returns the final result code (which may be any LDAP error
  // except a connection failure, reported as Errc::unavailable).
  template <typename Op>
  Result<int> run(Op&& op) {
    if (ld == nullptr) {
      ZMPROXY_TRY(open());
    }
    int rc = call(op);
    if (!is_ldap_connection_error(rc)) {
      return rc;
    }
    ZMPROXY_TRY(open());
    rc = call(op);
    if (is_ldap_connection_error(rc)) {
      Error e = ldap_unreachable(settings, ld.get(), rc);
      ld.reset();
      return tl::unexpected(std::move(e));
    }
    return rc;
  }

  // One line for a failed operation; `action` is e.g. "cannot add uid=a,dc=x".
  Error failure(int rc, const std::string& action) const {
    const std::string why = ldap_reason(ld.get(), rc);
    switch (rc) {
      case LDAP_NO_SUCH_OBJECT:
        return {Errc::not_found, action + ": no such entry"};
      case LDAP_ALREADY_EXISTS:
        return {Errc::already_exists, action + ": the entry already exists"};
      case LDAP_INVALID_CREDENTIALS:
      case LDAP_INSUFFICIENT_ACCESS:
      case LDAP_INAPPROPRIATE_AUTH:
      case LDAP_STRONG_AUTH_REQUIRED:
      case LDAP_CONFIDENTIALITY_REQUIRED:
        return {Errc::permission_denied,
                action + ": the LDAP server at " + settings.url + " denied it to " +
                    quoted(settings.bind_dn) + ": " + why +
                    "; check zimbra_ldap_userdn and the server's access rules"};
      case LDAP_NOT_ALLOWED_ON_NONLEAF:
        return {Errc::invalid_argument, action + ": it has entries below it; remove those first"};
      case LDAP_FILTER_ERROR:
      case LDAP_INVALID_DN_SYNTAX:
      case LDAP_NAMING_VIOLATION:
      case LDAP_PROTOCOL_ERROR:
      case LDAP_PARAM_ERROR:
      case LDAP_NOT_ALLOWED_ON_RDN:
      case LDAP_ALIAS_PROBLEM:
      case LDAP_ALIAS_DEREF_PROBLEM:
        return {Errc::invalid_argument, action + ": " + why};
      case LDAP_OBJECT_CLASS_VIOLATION:
      case LDAP_UNDEFINED_TYPE:
      case LDAP_INVALID_SYNTAX:
      case LDAP_CONSTRAINT_VIOLATION:
      case LDAP_INAPPROPRIATE_MATCHING:
      case LDAP_TYPE_OR_VALUE_EXISTS:
      case LDAP_NO_SUCH_ATTRIBUTE:
      case LDAP_NO_OBJECT_CLASS_MODS:
      case LDAP_UNWILLING_TO_PERFORM:
        return {Errc::invalid_argument,
                action + ": " + why + "; check the entry against the server's schema"};
      case LDAP_BUSY:
      case LDAP_UNAVAILABLE:
      case LDAP_TIMELIMIT_EXCEEDED:
      case LDAP_ADMINLIMIT_EXCEEDED:
        return {Errc::unavailable, action + ": the LDAP server at " + settings.url +
                                       " said: " + why + "; try again later"};
      case LDAP_REFERRAL:
        return {Errc::io_error, action + ": the LDAP server at " + settings.url +
                                    " referred it elsewhere (a read-only replica?): " + why +
                                    "; point ldap_url at the provider"};
      default:
        return {Errc::io_error, action + ": " + why + " (LDAP result " + std::to_string(rc) +
                                    ") from " + settings.url};
    }
  }

  // ldap_search_ext_s with the retry policy; the result chain goes to `res`.
  Result<int> search(const std::string& base,
                     int scope,
                     const std::string& filter,
                     char** attrs,
                     int sizelimit,
                     LdapMessagePtr& res) {
    return run([&](LDAP* h) {
      LDAPMessage* raw = nullptr;
      timeval tv = ldap_timeval(settings.timeout_seconds);
      const int r =
          ldap_search_ext_s(h, base.c_str(), scope, filter.c_str(), attrs, 0, nullptr, nullptr,
                            settings.timeout_seconds > 0 ? &tv : nullptr, sizelimit, &raw);
      res.reset(raw);
      return r;
    });
  }

  // Read one entry with `attrs` (nullptr = all user attributes); nullopt when absent.
  Result<std::optional<Entry>> read(const std::string& dn,
                                    char** attrs,
                                    const std::string& action) {
    LdapMessagePtr res;
    const Result<int> done = search(dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, res);
    if (!done) {
      return tl::unexpected(done.error());
    }
    const int rc = *done;
    if (rc == LDAP_NO_SUCH_OBJECT) {
      return std::optional<Entry>();
    }
    if (rc != LDAP_SUCCESS) {
      return tl::unexpected(failure(rc, action));
    }
    LDAPMessage* first = ldap_first_entry(ld.get(), res.get());
    if (first == nullptr) {
      return std::optional<Entry>();  // hidden from us by the server's access rules
    }
    return std::optional<Entry>(to_entry(ld.get(), first));
  }
};

LdapStore::LdapStore(LdapSettings settings)
    : m_settings(std::move(settings)), m_conn(std::make_unique<Connection>(m_settings)) {}

LdapStore::~LdapStore() = default;

Result<std::unique_ptr<LdapStore>> LdapStore::connect(LdapSettings settings) {
  std::unique_ptr<LdapStore> store(new LdapStore(std::move(settings)));
  ZMPROXY_TRY(store->m_conn->open());
  return store;
}

std::string LdapStore::describe() const {
  return m_settings.url;
}

Result<std::optional<Entry>> LdapStore::get(std::string_view dn) {
  const std::string d(dn);
  return m_conn->read(d, nullptr, "cannot read " + quoted(d) + " from " + m_settings.url);
}

Result<std::vector<Entry>> LdapStore::search(std::string_view base,
                                             Scope scope,
                                             std::string_view filter,
                                             std::size_t limit) {
  const std::string b(base);
  const std::string f = filter.empty() ? std::string("(objectClass=*)") : std::string(filter);
  const int sizelimit =
      limit > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(limit);
  LdapMessagePtr res;
  const Result<int> done = m_conn->search(b, ldap_scope(scope), f, nullptr, sizelimit, res);
  if (!done) {
    return tl::unexpected(done.error());
  }
  const int rc = *done;
  const std::string action =
      "cannot search " + quoted(b) + " for " + quoted(f) + " on " + m_settings.url;
  std::vector<Entry> out;
  if (rc == LDAP_SIZELIMIT_EXCEEDED && limit == 0) {
    // Truncated by the server's own limit, not ours: a partial answer would
    // silently look complete.
    return fail(Errc::io_error, action +
                                    ": the server's size limit cut the answer short; "
                                    "raise its sizelimit (limits) for " +
                                    quoted(m_settings.bind_dn) + " or narrow the search");
  }
  if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
    return tl::unexpected(m_conn->failure(rc, action));
  }
  LDAP* ld = m_conn->handle();
  for (LDAPMessage* e = ldap_first_entry(ld, res.get()); e != nullptr; e = ldap_next_entry(ld, e)) {
    out.push_back(to_entry(ld, e));
    if (limit != 0 && out.size() == limit) {
      break;
    }
  }
  return out;
}

Result<void> LdapStore::add(const Entry& entry) {
  ModList mods;
  for (const auto& [attr, values] : entry.attrs) {
    if (!values.empty()) {
      mods.push(LDAP_MOD_ADD, attr, values);
    }
  }
  const Result<int> done = m_conn->run(
      [&](LDAP* h) { return ldap_add_ext_s(h, entry.dn.c_str(), mods.get(), nullptr, nullptr); });
  if (!done) {
    return tl::unexpected(done.error());
  }
  const std::string action = "cannot add " + quoted(entry.dn) + " to " + m_settings.url;
  if (*done == LDAP_NO_SUCH_OBJECT) {
    return fail(Errc::not_found, action + ": its parent " + quoted(parent_dn(entry.dn)) +
                                     " does not exist; add the parent entry first");
  }
  if (*done != LDAP_SUCCESS) {
    return tl::unexpected(m_conn->failure(*done, action));
  }
  return {};
}

Result<void> LdapStore::modify(std::string_view dn, const std::vector<Modification>& mods) {
  const std::string d(dn);
  const std::string action = "cannot modify " + quoted(d) + " on " + m_settings.url;

  // Read the attributes the modifications name ("1.1" = none, to see that the entry exists).
  std::vector<std::string> names;
  for (const Modification& m : mods) {
    if (m.op != ModOp::replace) {
      names.push_back(m.attr);
    }
  }
  std::vector<char*> attrs;
  attrs.reserve(names.size() + 1);
  for (std::string& n : names) {
    attrs.push_back(n.data());
  }
  static char k_no_attributes[] = "1.1";
  if (attrs.empty()) {
    attrs.push_back(k_no_attributes);
  }
  attrs.push_back(nullptr);

  // A value equal byte for byte is present. Otherwise, unless an earlier
  // modification of the list changed the attribute, the server's matching
  // rule decides (e.g. caseIgnoreMatch), through ldap_compare: always for
  // removes, and for adds once the server has refused a plan that compared
  // bytes only (typeOrValueExists), which saves a round trip per new value.
  const IsPresent is_present = [&](const std::string& attr, const std::string& value,
                                   const Values* current, bool touched,
                                   bool ask_server) -> Result<bool> {
    if (holds_value(current, value)) {
      return true;
    }
    if (touched || !ask_server) {
      return false;
    }
    berval bv{static_cast<ber_len_t>(value.size()), const_cast<char*>(value.data())};
    const Result<int> rc = m_conn->run([&](LDAP* h) {
      return ldap_compare_ext_s(h, d.c_str(), attr.c_str(), &bv, nullptr, nullptr);
    });
    if (!rc) {
      return tl::unexpected(rc.error());
    }
    if (*rc == LDAP_COMPARE_TRUE || *rc == LDAP_COMPARE_FALSE) {
      return *rc == LDAP_COMPARE_TRUE;
    }
    if (*rc == LDAP_NO_SUCH_ATTRIBUTE || *rc == LDAP_UNDEFINED_TYPE ||
        *rc == LDAP_INAPPROPRIATE_MATCHING) {
      return false;  // the modify itself reports what is wrong, if anything
    }
    return tl::unexpected(m_conn->failure(*rc, action));
  };

  for (int attempt = 0;; ++attempt) {
    auto current = m_conn->read(d, attrs.data(), action);
    if (!current) {
      return tl::unexpected(current.error());
    }
    if (!*current) {
      return fail(Errc::not_found, action + ": no such entry");
    }
    auto planned = plan_modifications((*current)->attrs, mods, is_present, attempt > 0);
    if (!planned) {
      return tl::unexpected(planned.error());
    }
    if (planned->empty()) {
      return {};
    }
    ModList list;
    for (const Modification& m : *planned) {
      list.push(ldap_op(m.op), m.attr, m.values);
    }
    const Result<int> done = m_conn->run(
        [&](LDAP* h) { return ldap_modify_ext_s(h, d.c_str(), list.get(), nullptr, nullptr); });
    if (!done) {
      return tl::unexpected(done.error());
    }
    if (*done == LDAP_SUCCESS) {
      return {};
    }
    if (attempt == 0 && (*done == LDAP_TYPE_OR_VALUE_EXISTS || *done == LDAP_NO_SUCH_ATTRIBUTE)) {
      continue;
    }
    if (*done == LDAP_NO_SUCH_OBJECT) {
      return fail(Errc::not_found, action + ": no such entry");
    }
    return tl::unexpected(m_conn->failure(*done, action));
  }
}

Result<void> LdapStore::remove(std::string_view dn) {
  const std::string d(dn);
  const Result<int> done =
      m_conn->run([&](LDAP* h) { return ldap_delete_ext_s(h, d.c_str(), nullptr, nullptr); });
  if (!done) {
    return tl::unexpected(done.error());
  }
  const std::string action = "cannot delete " + quoted(d) + " from " + m_settings.url;
  if (*done == LDAP_NO_SUCH_OBJECT) {
    return fail(Errc::not_found, action + ": no such entry");
  }
  if (*done != LDAP_SUCCESS) {
    return tl::unexpected(m_conn->failure(*done, action));
  }
  return {};
}

}  // namespace zmproxy::provisioning

#include "lib/provisioning/attr_changes.hpp"

#include "lib/core/strings.hpp"
#include "lib/schema/value.hpp"

#include <algorithm>

namespace zmproxy::provisioning {

namespace {

using schema::Attribute;
using schema::Kind;

// What the changes of one attribute add up to.
struct Pending {
  const Attribute* attr;
  bool set = false;  // a replace, with set_values (none: clear)
  Values set_values;
  Values add;
  Values remove;
};

Pending& slot_of(std::vector<Pending>& pending, const Attribute* a) {
  for (Pending& p : pending) {
    if (p.attr == a) {
      return p;
    }
  }
  pending.push_back(Pending{a, false, {}, {}, {}});
  return pending.back();
}

// The registry's attribute for `c`, if `c` may be made on an entry of `kind`
// (`existing`: being modified, not created).
Result<const Attribute*> checked_attr(Kind kind, bool existing, const AttrChange& c) {
  const Attribute* a = schema::find(c.attr);
  if (a == nullptr) {
    const auto hint = schema::suggest(c.attr);
    return fail(Errc::invalid_argument, "account.INVALID_ATTR_NAME",
                "invalid attr name: " + c.attr +
                    (hint.empty() ? std::string() : "; did you mean " + std::string(hint) + "?"));
  }
  if (!a->allowed_on(kind)) {
    return fail(Errc::invalid_argument, "account.INVALID_ATTR_NAME",
                std::string(a->name) + " cannot be set on a " +
                    std::string(schema::kind_name(kind)) + "; it belongs on " +
                    schema::kinds_text(a->kinds));
  }
  if (core::iequals(a->name, "userPassword")) {
    return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                "userPassword cannot be set directly; use zmprov setPassword (sp)");
  }
  if (existing && is_managed_attr(a->name)) {
    return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                std::string(a->name) + " is maintained by zmprov and cannot be changed");
  }
  if (c.op != AttrChange::Op::set && !a->multi) {
    return fail(Errc::invalid_argument, "account.INVALID_ATTR_VALUE",
                std::string(a->name) + " is single-valued; set it with '" + std::string(a->name) +
                    " value' instead of " + (c.op == AttrChange::Op::add ? "+" : "-") +
                    std::string(a->name));
  }
  return a;
}

// `c`, checked, added to what its attribute's changes add up to.
Result<void> note(Pending& p, const AttrChange& c) {
  if (c.op == AttrChange::Op::set && c.value.empty()) {
    p.set = true;  // '' clears
    return {};
  }
  auto v = schema::normalize_value(*p.attr, c.value);
  if (!v) {
    return fail(Errc::invalid_argument, "account.INVALID_ATTR_VALUE", v.error().message);
  }
  switch (c.op) {
    case AttrChange::Op::set:
      p.set = true;
      p.set_values.push_back(std::move(*v));
      break;
    case AttrChange::Op::add:
      p.add.push_back(std::move(*v));
      break;
    case AttrChange::Op::remove:
      p.remove.push_back(std::move(*v));
      break;
  }
  return {};
}

// The replace of `p`, if it may be made.
Result<Modification> replace_of(Pending& p,
                                const Entry* current,
                                std::span<const std::string> safeguarded,
                                bool allow_replace) {
  const std::string name(p.attr->name);
  if (!p.attr->multi && p.set_values.size() > 1) {
    return fail(Errc::invalid_argument, "account.INVALID_ATTR_VALUE",
                name + " is single-valued but was given " + std::to_string(p.set_values.size()) +
                    " values");
  }
  const bool guarded = std::any_of(safeguarded.begin(), safeguarded.end(),
                                   [&](const std::string& g) { return core::iequals(g, name); });
  if (guarded && !allow_replace && current != nullptr && current->has(name) &&
      !p.set_values.empty()) {
    return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                "cannot replace multi-valued attr value unless -r is specified (" + name +
                    "; use +" + name + " or -" + name + " to add or remove one value)");
  }
  return Modification{ModOp::replace, name, std::move(p.set_values)};
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

bool is_managed_attr(std::string_view attr) {
  for (std::string_view a :
       {"zimbraId", "zimbraCreateTimestamp", "zimbraDomainName", "uid", "zimbraMailDeliveryAddress",
        "zimbraDomainType", "zimbraDomainAliasTargetId"}) {
    if (core::iequals(a, attr)) {
      return true;
    }
  }
  return false;
}

Result<std::vector<Modification>> to_modifications(Kind kind,
                                                   const Entry* current,
                                                   const std::vector<AttrChange>& changes,
                                                   std::span<const std::string> safeguarded,
                                                   bool allow_replace) {
  std::vector<Pending> pending;
  for (const AttrChange& c : changes) {
    auto a = checked_attr(kind, current != nullptr, c);
    if (!a) {
      return tl::unexpected(a.error());
    }
    ZMPROXY_TRY(note(slot_of(pending, *a), c));
  }
  std::vector<Modification> mods;
  for (Pending& p : pending) {
    if (p.set) {
      auto replace = replace_of(p, current, safeguarded, allow_replace);
      if (!replace) {
        return tl::unexpected(replace.error());
      }
      mods.push_back(std::move(*replace));
    }
    if (!p.remove.empty()) {
      mods.push_back({ModOp::remove, std::string(p.attr->name), std::move(p.remove)});
    }
    if (!p.add.empty()) {
      mods.push_back({ModOp::add, std::string(p.attr->name), std::move(p.add)});
    }
  }
  return mods;
}

}  // namespace zmproxy::provisioning

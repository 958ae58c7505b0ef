#pragma once
// What LdapStore sends for a modification list. LDAP refuses an add of a
// value the entry has (typeOrValueExists) and a remove of one it lacks
// (noSuchAttribute), where entry.hpp's ModOp semantics skip them: the plan
// drops those values, and modifications left with nothing to do, before the
// list goes to the server. Pure: whether a value is present under the
// server's matching rule is the caller's question to answer.

#include "lib/core/result.hpp"
#include "lib/provisioning/entry.hpp"

#include <functional>
#include <string>
#include <vector>

namespace zmproxy::provisioning {

// Whether `value` is among an attribute's values: `current` as read and as
// changed by the earlier modifications of the list (`touched`: some did);
// `ask_server` allows asking the server's matching rule (ldap_compare).
using IsPresent = std::function<Result<bool>(const std::string& attr,
                                             const std::string& value,
                                             const Values* current,
                                             bool touched,
                                             bool ask_server)>;

// True when `values` holds `value` byte for byte (false for nullptr).
bool holds_value(const Values* values, const std::string& value);

// The modifications LDAP must see to give `mods` the ModOp semantics of
// entry.hpp on an entry whose (relevant) attributes are `attrs`: repeated
// values are sent once, values already present are dropped from adds,
// absent ones from removes, and modifications left with nothing to do are
// dropped (a remove of a whole attribute the entry lacks, too). Later
// modifications of the same attribute see the effect of earlier ones. With
// `thorough`, adds ask the server too (removes always may). An error of
// `is_present` ends the plan.
Result<std::vector<Modification>> plan_modifications(AttrMap attrs,
                                                     const std::vector<Modification>& mods,
                                                     const IsPresent& is_present,
                                                     bool thorough);

}  // namespace zmproxy::provisioning

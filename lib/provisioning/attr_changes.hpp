#pragma once
// Attribute changes as zmprov's arguments say them, and the directory
// modifications they become once checked against the attribute registry
// (name, entry kind, cardinality, value syntax, what provisioning keeps to
// itself). Pure: no store is read or written here.

#include "lib/core/result.hpp"
#include "lib/provisioning/entry.hpp"
#include "lib/schema/registry.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::provisioning {

// One attribute change as zmprov's arguments say it: `attr value` sets
// (repeat the name for several values; value '' clears), `+attr value` adds,
// `-attr value` removes.
struct AttrChange {
  enum class Op { set, add, remove };
  Op op;
  std::string attr;
  std::string value;
};

// Parse name/value pairs; an odd count is Errc::invalid_argument.
Result<std::vector<AttrChange>> parse_attr_args(std::span<const std::string> args);

// Attributes provisioning sets itself (zimbraId, uid, zimbraDomainName, ...):
// given on a create, refused on a modify.
bool is_managed_attr(std::string_view attr);

// The modifications that make `changes` on an entry of `kind`; `current` is
// the entry modified, nullptr for one being created. Names come out in their
// canonical spelling and values normalised; per attribute, in the order first
// named: the replace (`attr value`; '' alone clears), then the removes, then
// the adds. Refused, each with Zimbra's code and one line: an unknown name
// (with the closest known one), an attribute `kind` may not carry,
// userPassword, a managed attribute of an existing entry, +/- on a
// single-valued attribute, several values for one, a value of the wrong
// syntax, and replacing the values an entry has of a `safeguarded`
// attribute unless `allow_replace`.
Result<std::vector<Modification>> to_modifications(schema::Kind kind,
                                                   const Entry* current,
                                                   const std::vector<AttrChange>& changes,
                                                   std::span<const std::string> safeguarded,
                                                   bool allow_replace);

}  // namespace zmproxy::provisioning

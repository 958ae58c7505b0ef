#pragma once
// A directory entry as both stores hold it: a DN and its attributes. Attribute
// names compare case-insensitively (as LDAP's); values keep their order.

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::provisioning {

struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept;
};

using Values = std::vector<std::string>;
using AttrMap = std::map<std::string, Values, CaseInsensitiveLess>;

struct Entry {
  std::string dn;
  AttrMap attrs;  // objectClass included

  // The values of an attribute, or nullptr when it has none.
  const Values* values(std::string_view attr) const;
  // The first value, or "" when none.
  std::string first(std::string_view attr) const;
  bool has(std::string_view attr) const { return values(attr) != nullptr; }
  bool has_object_class(std::string_view object_class) const;
};

enum class ModOp {
  add,      // add these values; values already present are skipped
  remove,   // remove these values (absent ones are ignored); no values = the whole attribute
  replace,  // set exactly these values; no values = delete the attribute
};

struct Modification {
  ModOp op;
  std::string attr;
  Values values;
};

// Apply modifications to attributes in memory, with the semantics above.
void apply_modifications(AttrMap& attrs, const std::vector<Modification>& mods);

}  // namespace zmproxy::provisioning

#include "lib/provisioning/ldap_modify_plan.hpp"

#include <algorithm>
#include <set>

namespace zmproxy::provisioning {

namespace {

Values unique(const Values& values) {
  Values out;
  for (const std::string& v : values) {
    if (!holds_value(&out, v)) {
      out.push_back(v);
    }
  }
  return out;
}

// `m` (already planned: nothing redundant) applied to `attrs`.
void apply_one(AttrMap& attrs, const Modification& m) {
  Values& v = attrs[m.attr];
  switch (m.op) {
    case ModOp::add:
      v.insert(v.end(), m.values.begin(), m.values.end());
      break;
    case ModOp::remove:
      if (m.values.empty()) {
        v.clear();
      }
      for (const std::string& x : m.values) {
        v.erase(std::remove(v.begin(), v.end(), x), v.end());
      }
      break;
    case ModOp::replace:
      v = m.values;
      break;
  }
  if (v.empty()) {
    attrs.erase(m.attr);
  }
}

// The values of `values` (once each) whose presence is `wanted`.
Result<Values> keep_where(const Values& values,
                          bool wanted,
                          const std::string& attr,
                          const Values* current,
                          bool touched,
                          bool ask_server,
                          const IsPresent& is_present) {
  Values out;
  for (const std::string& v : unique(values)) {
    auto present = is_present(attr, v, current, touched, ask_server);
    if (!present) {
      return tl::unexpected(present.error());
    }
    if (*present == wanted) {
      out.push_back(v);
    }
  }
  return out;
}

}  // namespace

bool holds_value(const Values* values, const std::string& value) {
  return values != nullptr && std::find(values->begin(), values->end(), value) != values->end();
}

Result<std::vector<Modification>> plan_modifications(AttrMap attrs,
                                                     const std::vector<Modification>& mods,
                                                     const IsPresent& is_present,
                                                     bool thorough) {
  std::vector<Modification> out;
  std::set<std::string, CaseInsensitiveLess> touched;  // attributes changed by earlier mods
  for (const Modification& m : mods) {
    const auto it = attrs.find(m.attr);
    const Values* current = it == attrs.end() || it->second.empty() ? nullptr : &it->second;
    const bool was_touched = touched.contains(m.attr);
    Modification keep{m.op, m.attr, {}};
    switch (m.op) {
      case ModOp::add: {
        auto absent =
            keep_where(m.values, false, m.attr, current, was_touched, thorough, is_present);
        if (!absent) {
          return tl::unexpected(absent.error());
        }
        if (absent->empty()) {
          continue;
        }
        keep.values = std::move(*absent);
        break;
      }
      case ModOp::remove: {
        if (current == nullptr) {
          continue;
        }
        auto present = keep_where(m.values, true, m.attr, current, was_touched, true, is_present);
        if (!present) {
          return tl::unexpected(present.error());
        }
        if (!m.values.empty() && present->empty()) {
          continue;
        }
        keep.values = std::move(*present);
        break;
      }
      case ModOp::replace:
        keep.values = unique(m.values);
        break;
    }
    apply_one(attrs, keep);
    touched.insert(m.attr);
    out.push_back(std::move(keep));
  }
  return out;
}

}  // namespace zmproxy::provisioning

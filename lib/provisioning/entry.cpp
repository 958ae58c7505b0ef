#include "lib/provisioning/entry.hpp"

#include <algorithm>

#include "lib/core/strings.hpp"

namespace zmproxy::provisioning {

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const char x = core::ascii_lower(a[i]);
    const char y = core::ascii_lower(b[i]);
    if (x != y) {
      return x < y;
    }
  }
  return a.size() < b.size();
}

const Values* Entry::values(std::string_view attr) const {
  const auto it = attrs.find(attr);
  return (it == attrs.end() || it->second.empty()) ? nullptr : &it->second;
}

std::string Entry::first(std::string_view attr) const {
  const Values* v = values(attr);
  return v == nullptr ? std::string() : v->front();
}

bool Entry::has_object_class(std::string_view object_class) const {
  const Values* v = values("objectClass");
  return v != nullptr && std::any_of(v->begin(), v->end(), [&](const std::string& oc) {
           return core::iequals(oc, object_class);
         });
}

void apply_modifications(AttrMap& attrs, const std::vector<Modification>& mods) {
  for (const Modification& m : mods) {
    switch (m.op) {
      case ModOp::add: {
        Values& v = attrs[m.attr];
        for (const std::string& x : m.values) {
          if (std::find(v.begin(), v.end(), x) == v.end()) {
            v.push_back(x);
          }
        }
        if (v.empty()) {
          attrs.erase(m.attr);
        }
        break;
      }
      case ModOp::remove: {
        const auto it = attrs.find(m.attr);
        if (it == attrs.end()) {
          break;
        }
        if (m.values.empty()) {
          attrs.erase(it);
          break;
        }
        Values& v = it->second;
        for (const std::string& x : m.values) {
          v.erase(std::remove(v.begin(), v.end(), x), v.end());
        }
        if (v.empty()) {
          attrs.erase(it);
        }
        break;
      }
      case ModOp::replace:
        if (m.values.empty()) {
          attrs.erase(m.attr);
        } else {
          attrs[m.attr] = m.values;
        }
        break;
    }
  }
}

}  // namespace zmproxy::provisioning

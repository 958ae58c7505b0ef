#pragma once
// Store entries for the route tests, written as {attribute, values} lists.

#include "lib/provisioning/entry.hpp"

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace zmproxy::test {

inline provisioning::Entry make_entry(
    std::string dn, std::initializer_list<std::pair<const char*, std::vector<std::string>>> attrs) {
  provisioning::Entry e{std::move(dn), {}};
  for (const auto& [k, v] : attrs) {
    e.attrs[k] = v;
  }
  return e;
}

}  // namespace zmproxy::test

#pragma once
// LDIF content records (RFC 2849): the embedded store's file format, and
// what slapadd reads. Pure.

#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.hpp"
#include "lib/provisioning/entry.hpp"

namespace zmproxy::provisioning {

// Parse records separated by blank lines: `dn:`, `attr: value`,
// `attr:: base64`, folded lines (a leading space continues the previous line),
// `#` comments and an optional `version: 1`. Errors name `source` and the line.
Result<std::vector<Entry>> parse_ldif(std::string_view text, std::string_view source);

// One record: dn, objectClass values, then the other attributes in name order;
// values that are not safe strings are base64; lines folded at 76 columns;
// followed by a blank line.
void append_ldif(std::string& out, const Entry& entry);

}  // namespace zmproxy::provisioning

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

// Where each record of an LDIF text is, found by reading only the dn lines:
// the embedded store indexes a large file this way and parses a record only
// when it is used.
struct LdifRecord {
  std::string dn;
  std::size_t offset;  // of the record's first line
  std::size_t length;  // up to and including the last line's newline
  std::size_t line;    // 1-based line number of its first line
};
Result<std::vector<LdifRecord>> index_ldif(std::string_view text, std::string_view source);

// Parse the one record `text` holds; `first_line` numbers its lines in errors.
Result<Entry> parse_ldif_record(std::string_view text, std::string_view source,
                                std::size_t first_line);

// One record: dn, objectClass values, then the other attributes in name order;
// values that are not safe strings are base64; lines folded at 76 columns;
// followed by a blank line.
void append_ldif(std::string& out, const Entry& entry);

}  // namespace zmproxy::provisioning

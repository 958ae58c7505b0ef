#pragma once
// LDIF content records (RFC 2849): the embedded store's file format, and
// what slapadd reads. Pure.

#include <functional>
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
// when it is used. `on_record(dn, offset, length)` is called for each record
// in file order: `offset` is that of its first line, `length` runs up to and
// including its last line's newline, and `dn` is valid during the call only.
// A text without CR skips from one record to the next with a search for the
// blank line; a plain `dn: value` line is read in place, a folded or base64
// one by the record parser. Errors name `source` and the line.
using LdifRecordSink =
    std::function<void(std::string_view dn, std::size_t offset, std::size_t length)>;
Result<void> index_ldif(std::string_view text, std::string_view source,
                        const LdifRecordSink& on_record);

// The 1-based number of the line that starts at `offset` of `text`.
std::size_t ldif_line_at(std::string_view text, std::size_t offset);

// Parse the one record `text` holds; `first_line` numbers its lines in errors.
Result<Entry> parse_ldif_record(std::string_view text, std::string_view source,
                                std::size_t first_line);

// One record: dn, objectClass values, then the other attributes in name order;
// values that are not safe strings are base64; lines folded at 76 columns;
// followed by a blank line.
void append_ldif(std::string& out, const Entry& entry);

}  // namespace zmproxy::provisioning

#pragma once
// RFC 4515 LDAP search filters: parse, print, escape and match against an
// Entry (for FileStore). Pure: no I/O, no globals, safe on any thread.

#include "lib/core/result.hpp"
#include "lib/provisioning/entry.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::provisioning {

// Limits enforced by parse_filter.
inline constexpr std::size_t k_filter_max_length = 64 * 1024;  // bytes of text
inline constexpr std::size_t k_filter_max_depth = 64;          // nested parentheses

// One node of a parsed filter, a small value type. Which fields are used
// depends on `kind`; the others stay empty. Values are held decoded (no \XX).
struct Filter {
  enum class Kind {
    and_,           // (&children...); no children = absolute TRUE (RFC 4526)
    or_,            // (|children...); no children = absolute FALSE (RFC 4526)
    not_,           // (!child); exactly one child
    equal,          // (attr=value)
    substring,      // (attr=initial*any*...*final_); at least one part is non-empty
    greater_equal,  // (attr>=value)
    less_equal,     // (attr<=value)
    present,        // (attr=*)
    approx,         // (attr~=value); matched as equality
    extensible,     // (attr:dn:rule:=value); parsed, never matches
  };

  Kind kind = Kind::present;
  std::string attr;   // attribute description; "" only for and/or/not and (:rule:=v)
  std::string value;  // equal, greater_equal, less_equal, approx, extensible

  // substring: "" means the part is absent; `any` holds only non-empty parts.
  std::string initial;
  std::vector<std::string> any;
  std::string final_;

  // extensible: the matching rule ("" = none) and the :dn flag.
  std::string rule;
  bool dn_attrs = false;

  std::vector<Filter> children;  // and_, or_, not_

  bool operator==(const Filter&) const = default;
};

// Parse RFC 4515 text. As LDAP tools do, a simple item without the outer
// parentheses ("cn=foo") is accepted as if wrapped. Errors are
// Errc::invalid_argument with one line:
//   invalid LDAP filter '<text, cut at 80 bytes>': <reason> at offset <n>
Result<Filter> parse_filter(std::string_view text);

// Evaluate against an entry. Attribute names and values compare
// ASCII-case-insensitively; >= and <= compare as integers when both sides are
// decimal integers, else as case-insensitive strings; any value of a
// multi-valued attribute may satisfy an item.
bool matches(const Filter& f, const Entry& e);

// RFC 4515 escaping of an assertion value: * ( ) \ and NUL become \2a \28
// \29 \5c \00; other bytes are unchanged. Use it to put user input into a filter.
std::string escape_filter_value(std::string_view value);

// Canonical text (values re-escaped; control characters as \XX too, so the
// text is one line). parse_filter(to_string(f)) yields a Filter equal to f for
// any f that follows the field rules above (as every parsed Filter does).
std::string to_string(const Filter& f);

}  // namespace zmproxy::provisioning

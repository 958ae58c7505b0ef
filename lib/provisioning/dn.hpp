#pragma once
// Distinguished names (RFC 4514), as far as provisioning needs them. Pure.

#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::provisioning {

// Escape a value for use in an RDN: , + " \ < > ; = and leading # or space,
// trailing space, NUL.
std::string escape_dn_value(std::string_view value);

// The canonical form used to compare DNs: attribute types lower-cased, the
// value lower-cased, spaces around , and = removed. Escapes are preserved.
std::string normalize_dn(std::string_view dn);

// The RDNs of a DN, split at unescaped commas (not normalized).
std::vector<std::string> split_dn(std::string_view dn);

// The parent DN ("" for a top-level entry).
std::string parent_dn(std::string_view dn);

// True when `dn` is `base` or below it (both normalized or not).
bool dn_is_under(std::string_view dn, std::string_view base);

// "dc=example,dc=com" for "example.com".
std::string domain_to_dn(std::string_view domain);

}  // namespace zmproxy::provisioning

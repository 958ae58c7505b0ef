#pragma once
// An X.509 subject distinguished name as a proxy sends it in a certauth
// lookup's Auth-User, read into its attributes. Two spellings are taken:
// nginx's legacy one-line form ("/C=US/O=Example/CN=Alice/emailAddress=
// alice@example.com", what Zimbra's proxy sent; a '/' inside a value is
// ambiguous there, and is kept in the value when the next part has no '=')
// and RFC 4514's ("emailAddress=alice@example.com,CN=Alice,O=Example,C=US",
// what OpenSSL's XN_FLAG_RFC2253 and nginx since 1.11.6 print, and zmproxyd
// sends): ',' or ';' between RDNs, '+' inside one, backslash escapes of a
// special character or two hex digits, RFC 1779 quoted values and spaces
// around separators. Pure.

#include "lib/core/result.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zmproxy::route {

struct DnAttribute {
  std::string type;   // as written ("emailAddress", "CN", "1.2.840.113549.1.9.1")
  std::string value;  // unescaped bytes
};

// The attributes in the order written; an error for an empty DN, a part
// without '=', an empty type, or a malformed escape or quote.
Result<std::vector<DnAttribute>> parse_subject_dn(std::string_view dn);

// Whether `type` is the e-mail address attribute: emailAddress, E or its
// OID 1.2.840.113549.1.9.1 (ASCII case ignored).
bool is_email_attribute(std::string_view type) noexcept;

}  // namespace zmproxy::route

#pragma once
// Domain and virtual host names as confgen uses them: a domain's name becomes
// the file names conf/domaincerts/<domain>.crt and .key, a virtual host name
// a word of tls.domain_certificates and http.server_names. The store may hold
// anything (LDAP written by other tools, an edited LDIF), so confgen checks
// them again here: a name such as "../../x" or one holding '/' or a space
// must never reach a path or split a configuration line.
//
// Thread affinity: none (pure functions).

#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.hpp"

namespace zmproxy::confgen {

// 1..253 bytes of letters, digits, '-', '_' and '.', no empty label (so no
// "..", no leading or trailing dot), not starting with '-'.
bool is_safe_domain_name(std::string_view name) noexcept;
// The same, with a leading "*." allowed (a wildcard virtual host).
bool is_safe_virtual_host(std::string_view name) noexcept;

// One line naming the domain (and virtual host) and the fix, when either is
// not safe.
Result<void> check_domain_certificate_names(std::string_view domain,
                                            const std::vector<std::string>& virtual_hosts);

}  // namespace zmproxy::confgen

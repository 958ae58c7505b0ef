#pragma once
// Which confgen variables hold secrets (an attribute the registry marks
// secret, a localconfig key naming a password or secret: the route secret
// zmlookupd_secret, zimbra_ldap_password, ...), and the variables with those
// values masked, for everything confgen prints rather than installs
// (`zmproxyctl genconf --dry-run`, `-D`).
//
// Thread affinity: none (pure functions).

#include <string_view>

#include "lib/confgen/template.hpp"

namespace zmproxy::confgen {

inline constexpr std::string_view k_secret_mask = "********";

// `name` as confgen knows it: "zimbraSSLPrivateKey", "global.zimbraSSLPrivateKey",
// "zmlookupd_secret".
bool is_secret_variable(std::string_view name) noexcept;

// A copy of `vars` where every non-empty secret value is k_secret_mask, in the
// same TOML shape (quoted string, array, or the bare text of a localconfig key
// that the template quotes itself).
Variables masked_variables(const Variables& vars);

}  // namespace zmproxy::confgen

#pragma once
// Open the store that localconfig selects: ldap_url empty -> the embedded
// FileStore (data/prov.ldif under the home), else LdapStore bound as
// zimbra_ldap_userdn / zimbra_ldap_password.

#include <memory>

#include "lib/core/home.hpp"
#include "lib/core/result.hpp"
#include "lib/localconfig/localconfig.hpp"
#include "lib/provisioning/directory.hpp"

namespace zmproxy::provisioning {

Result<std::unique_ptr<Directory>> open_store(const localconfig::LocalConfig& lc,
                                              const core::HomePaths& home);

// The zmprov_safeguarded_attrs list.
std::vector<std::string> safeguarded_attrs(const localconfig::LocalConfig& lc);

}  // namespace zmproxy::provisioning

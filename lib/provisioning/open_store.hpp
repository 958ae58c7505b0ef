#pragma once
// Open the store that localconfig selects: ldap_url empty -> the embedded
// FileStore (data/prov.ldif under the home), else LdapStore bound as
// zimbra_ldap_userdn / zimbra_ldap_password. With ldap_master_url set to
// another directory (a replica's provider), reads come from ldap_url and
// writes go to ldap_master_url (ReplicatedStore); when ldap_url cannot be
// reached, the provider serves both.

#include <memory>

#include "lib/core/home.hpp"
#include "lib/core/result.hpp"
#include "lib/localconfig/localconfig.hpp"
#include "lib/provisioning/directory.hpp"
#include "lib/provisioning/ldap_store.hpp"

namespace zmproxy::provisioning {

Result<std::unique_ptr<Directory>> open_store(const localconfig::LocalConfig& lc,
                                              const core::HomePaths& home);

// LdapSettings for `url` from localconfig: zimbra_ldap_userdn,
// zimbra_ldap_password, ldap_starttls_supported, ldap_starttls_required,
// ldap_ca_file (relative to the home's conf/ when not absolute),
// ssl_allow_untrusted_certs.
LdapSettings ldap_settings(const localconfig::LocalConfig& lc, std::string url);

// The zmprov_safeguarded_attrs list.
std::vector<std::string> safeguarded_attrs(const localconfig::LocalConfig& lc);

}  // namespace zmproxy::provisioning

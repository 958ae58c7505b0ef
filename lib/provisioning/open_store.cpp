#include "lib/provisioning/open_store.hpp"

#include "lib/core/strings.hpp"
#include "lib/provisioning/file_store.hpp"
#include "lib/provisioning/ldap_store.hpp"

namespace zmproxy::provisioning {

Result<std::unique_ptr<Directory>> open_store(const localconfig::LocalConfig& lc,
                                              const core::HomePaths& home) {
  const std::string url(core::trim(lc.value_or_empty("ldap_url")));
  if (url.empty()) {
    auto store = FileStore::open(home.data() / "prov.ldif");
    if (!store) {
      return tl::unexpected(store.error());
    }
    return std::unique_ptr<Directory>(std::move(*store));
  }
  LdapSettings settings;
  settings.url = url;
  settings.bind_dn = lc.value_or_empty("zimbra_ldap_userdn");
  settings.password = lc.value_or_empty("zimbra_ldap_password");
  auto store = LdapStore::connect(std::move(settings));
  if (!store) {
    return tl::unexpected(store.error());
  }
  return std::unique_ptr<Directory>(std::move(*store));
}

std::vector<std::string> safeguarded_attrs(const localconfig::LocalConfig& lc) {
  std::vector<std::string> out;
  for (const std::string& part : core::split(lc.value_or_empty("zmprov_safeguarded_attrs"), ',')) {
    const auto t = core::trim(part);
    if (!t.empty()) {
      out.emplace_back(t);
    }
  }
  return out;
}

}  // namespace zmproxy::provisioning

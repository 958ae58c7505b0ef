#include "lib/provisioning/open_store.hpp"

#include "lib/core/strings.hpp"
#include "lib/provisioning/file_store.hpp"
#include "lib/provisioning/ldap_store.hpp"
#include "lib/provisioning/replicated_store.hpp"

#include <filesystem>

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
  const std::string master(core::trim(lc.value_or_empty("ldap_master_url")));
  auto store = LdapStore::connect(ldap_settings(lc, url));
  if (master.empty() || master == url) {
    if (!store) {
      return tl::unexpected(store.error());
    }
    return std::unique_ptr<Directory>(std::move(*store));
  }
  if (!store) {
    // The replica is down: the provider serves reads and writes alike.
    if (store.error().code != Errc::unavailable) {
      return tl::unexpected(store.error());
    }
    auto provider = LdapStore::connect(ldap_settings(lc, master));
    if (!provider) {
      return tl::unexpected(store.error());
    }
    return std::unique_ptr<Directory>(std::move(*provider));
  }
  return std::unique_ptr<Directory>(
      std::make_unique<ReplicatedStore>(std::move(*store), ldap_settings(lc, master)));
}

LdapSettings ldap_settings(const localconfig::LocalConfig& lc, std::string url) {
  LdapSettings s;
  s.url = std::move(url);
  s.bind_dn = lc.value_or_empty("zimbra_ldap_userdn");
  s.password = lc.value_or_empty("zimbra_ldap_password");
  s.starttls_supported = lc.integer("ldap_starttls_supported", 0) != 0;
  s.starttls_required = core::to_lower(lc.value_or_empty("ldap_starttls_required")) != "false";
  s.allow_untrusted_certs =
      core::to_lower(lc.value_or_empty("ssl_allow_untrusted_certs")) == "true";
  auto ca = lc.expanded("ldap_ca_file");
  s.ca_file = std::string(core::trim(ca ? *ca : lc.value_or_empty("ldap_ca_file")));
  if (!s.ca_file.empty() && std::filesystem::path(s.ca_file).is_relative()) {
    s.ca_file = (lc.file().parent_path() / s.ca_file).string();
  }
  return s;
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

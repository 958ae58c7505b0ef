#include "lib/provisioning/change_feed.hpp"

#include "lib/core/strings.hpp"
#include "lib/provisioning/file_change_feed.hpp"
#include "lib/provisioning/ldap_change_feed.hpp"
#include "lib/provisioning/ldap_store.hpp"
#include "lib/provisioning/open_store.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace zmproxy::provisioning {
namespace {

// The first URL of the space separated ldap_url list.
std::string first_url(std::string_view urls) {
  const std::size_t end = urls.find_first_of(" \t");
  return std::string(core::trim(urls.substr(0, end)));
}

}  // namespace

Result<std::unique_ptr<ChangeFeed>> open_change_feed(const localconfig::LocalConfig& lc,
                                                     const core::HomePaths& home) {
  // The same choice as open_store: no ldap_url means the FileStore's file.
  const std::string urls(core::trim(lc.value_or_empty("ldap_url")));
  if (urls.empty()) {
    return std::unique_ptr<ChangeFeed>(std::make_unique<FileChangeFeed>(home.data() / "prov.ldif"));
  }
  LdapSettings settings = ldap_settings(lc, first_url(urls));
  return std::unique_ptr<ChangeFeed>(std::make_unique<LdapChangeFeed>(std::move(settings)));
}

}  // namespace zmproxy::provisioning

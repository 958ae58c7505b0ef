#include "lib/provisioning/zimbra_tree.hpp"

#include "lib/provisioning/dn.hpp"

namespace zmproxy::provisioning {

std::string_view object_class(schema::Kind kind) noexcept {
  switch (kind) {
    case schema::Kind::global:
      return "zimbraGlobalConfig";
    case schema::Kind::server:
      return "zimbraServer";
    case schema::Kind::domain:
      return "zimbraDomain";
    case schema::Kind::account:
      return "zimbraAccount";
  }
  return "top";
}

std::string server_dn(std::string_view name) {
  return "cn=" + escape_dn_value(name) + "," + std::string(k_servers_dn);
}

std::string account_dn(std::string_view local, std::string_view domain) {
  return "uid=" + escape_dn_value(local) + ",ou=people," + domain_to_dn(domain);
}

bool looks_like_id(std::string_view key) noexcept {
  return key.size() == 36 && key[8] == '-' && key[13] == '-' && key[18] == '-' && key[23] == '-';
}

tl::unexpected<Error> service_error(Error e) {
  if (e.zimbra_code.empty()) {
    e.zimbra_code =
        e.code == Errc::invalid_argument ? "service.INVALID_REQUEST" : "service.FAILURE";
  }
  return tl::unexpected(std::move(e));
}

}  // namespace zmproxy::provisioning

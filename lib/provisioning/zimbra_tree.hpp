#pragma once
// Where Zimbra keeps its entries in the directory: the fixed entries, the DN
// of a server or an account, the object class of each kind, the shape of a
// zimbraId; and the service code a directory failure gets. Pure.

#include "lib/core/result.hpp"
#include "lib/schema/registry.hpp"

#include <string>
#include <string_view>

namespace zmproxy::provisioning {

inline constexpr std::string_view k_config_dn = "cn=config,cn=zimbra";
inline constexpr std::string_view k_servers_dn = "cn=servers,cn=zimbra";

// zimbraGlobalConfig, zimbraServer, zimbraDomain, zimbraAccount.
std::string_view object_class(schema::Kind kind) noexcept;

// cn=<name>,cn=servers,cn=zimbra
std::string server_dn(std::string_view name);
// uid=<local>,ou=people,<the domain's dc= DN>
std::string account_dn(std::string_view local, std::string_view domain);

// True when `key` has the shape of a zimbraId (a UUID: 8-4-4-4-12), so a
// lookup by it goes by id rather than by name.
bool looks_like_id(std::string_view key) noexcept;

// A directory failure as zmprov reports it: the text is kept; without a
// Zimbra code it gets service.INVALID_REQUEST (invalid_argument) or
// service.FAILURE.
tl::unexpected<Error> service_error(Error e);

}  // namespace zmproxy::provisioning

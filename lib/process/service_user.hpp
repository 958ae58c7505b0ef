#pragma once
// The daemons do not stay root. Started as root, a daemon binds its ports
// and reads its keys, then becomes the service user (localconfig
// `zimbra_user`, rendered as `server.user`; default "zmproxy") for the rest
// of its life, with no way back:
//   - supplementary groups, gid and uid all set to the user's (every thread);
//   - PR_SET_NO_NEW_PRIVS (an exec can never gain privileges) and
//     PR_SET_DUMPABLE 0 (no core dump, no ptrace by the user);
//   - only CAP_NET_BIND_SERVICE kept, in the calling (control) thread, when
//     asked: a reload may then bind a new port below 1024.
// Before that, as root, hand_home_to() gives the user what a hot reload and
// a log rotation need: the home searchable, and conf/, data/, log/, run/
// (with what is in them) owned by the user, modes unchanged.
// A daemon started by anyone else (a developer) runs as it is.

#include "lib/core/home.hpp"
#include "lib/core/result.hpp"

#include <sys/types.h>

#include <optional>
#include <string>

namespace zmproxy::process {

struct ServiceUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

inline constexpr const char* k_default_service_user = "zmproxy";

// The user this process must become: nullopt when it does not run as root
// (nothing to drop). Errors: the user does not exist, or is root.
Result<std::optional<ServiceUser>> service_user_to_become(const std::string& name);

// As root: make `home` usable by `user` (see above). Symlinks are never
// followed; at most 100,000 entries are visited.
Result<void> hand_home_to(const core::HomePaths& home, const ServiceUser& user);

// Become `user` for good. `keep_bind`: keep CAP_NET_BIND_SERVICE in this
// thread (threads it creates later inherit it; drop_thread_capabilities()
// there). Errors name what failed; a process that cannot drop must exit.
Result<void> become(const ServiceUser& user, bool keep_bind);

// Clear every capability of the calling thread (worker threads).
void drop_thread_capabilities() noexcept;

// For a daemon that is not root: no exec can gain privileges.
void forbid_new_privileges() noexcept;

// As root (zmproxyd, zmlookupd, zmconfigd at start): find the user, hand it
// the home and become it; `keep_bind` as above. Not root: only
// forbid_new_privileges(). `who` names the daemon in errors.
Result<void> drop_root(const std::string& user_name,
                       const core::HomePaths& home,
                       bool keep_bind,
                       std::string_view who);

}  // namespace zmproxy::process

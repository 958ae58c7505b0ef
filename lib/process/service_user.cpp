#include "lib/process/service_user.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace zmproxy::process {

namespace {

std::string os_error(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// capset(2) for the calling thread only; `bits` in the first 32 capabilities.
int set_thread_capabilities(std::uint32_t bits) noexcept {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[2] = {};
  data[0].effective = bits;
  data[0].permitted = bits;
  return static_cast<int>(::syscall(SYS_capset, &header, data));
}

// Owner `user`, modes unchanged; never through a symlink.
Result<void> give(const std::filesystem::path& p, const ServiceUser& user) {
  if (::lchown(p.c_str(), user.uid, user.gid) != 0 && errno != ENOENT) {
    return fail(Errc::io_error, os_error("cannot give " + p.string() + " to " + user.name));
  }
  return {};
}

constexpr std::size_t k_most_entries = 100'000;

Result<void> give_tree(const std::filesystem::path& dir, const ServiceUser& user,
                       std::size_t& visited) {
  ZMPROXY_TRY(give(dir, user));
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(
      dir, std::filesystem::directory_options::none, ec);
  for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (++visited > k_most_entries) {
      return fail(Errc::invalid_argument,
                  dir.string() + " holds more than 100000 entries; give it to " + user.name +
                      " yourself (chown -R)");
    }
    // recursive_directory_iterator does not descend into symlinked
    // directories without follow_directory_symlink; lchown never follows.
    ZMPROXY_TRY(give(it->path(), user));
  }
  return {};
}

}  // namespace

Result<std::optional<ServiceUser>> service_user_to_become(const std::string& name) {
  if (::geteuid() != 0) {
    return std::optional<ServiceUser>();
  }
  const std::string wanted = name.empty() ? std::string(k_default_service_user) : name;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  const int rc = ::getpwnam_r(wanted.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) {
    return fail(Errc::not_found,
                "user '" + wanted + "' does not exist; create it (useradd --system --user-group "
                "--no-create-home --shell /usr/sbin/nologin " + wanted +
                ", or scripts/install-deps) or set localconfig zimbra_user");
  }
  if (pw.pw_uid == 0) {
    return fail(Errc::invalid_argument,
                "zimbra_user '" + wanted + "' is root; set localconfig zimbra_user to an "
                "unprivileged user");
  }
  return std::optional<ServiceUser>(ServiceUser{wanted, pw.pw_uid, pw.pw_gid});
}

Result<void> hand_home_to(const core::HomePaths& home, const ServiceUser& user) {
  struct stat st {};
  if (::stat(home.home.c_str(), &st) != 0) {
    return fail(Errc::not_found, os_error("runtime home " + home.home.string()));
  }
  // The user must reach its files: search permission on the home, through
  // its group when others have none (a 0700 home becomes 0710, group user).
  const bool searchable = (st.st_mode & S_IXOTH) != 0 || st.st_uid == user.uid ||
                          (st.st_gid == user.gid && (st.st_mode & S_IXGRP) != 0);
  if (!searchable) {
    if (::chown(home.home.c_str(), static_cast<uid_t>(-1), user.gid) != 0 ||
        ::chmod(home.home.c_str(), (st.st_mode & 07777) | S_IXGRP) != 0) {
      return fail(Errc::io_error,
                  os_error("cannot let " + user.name + " search " + home.home.string()));
    }
  }
  // And every directory above it: a home inside a private directory
  // (0700) cannot be reached, whatever the home's own mode.
  for (auto up = std::filesystem::absolute(home.home).parent_path(); ; up = up.parent_path()) {
    if (::stat(up.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0 && st.st_uid != user.uid &&
        !(st.st_gid == user.gid && (st.st_mode & S_IXGRP) != 0)) {
      return fail(Errc::permission_denied,
                  "user " + user.name + " cannot reach the home through " + up.string() +
                      " (no search permission); chmod o+x " + up.string() +
                      ", or choose a home it can reach");
    }
    if (up == up.parent_path()) {
      break;
    }
  }
  std::size_t visited = 0;
  for (const auto& dir : {home.run(), home.log()}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return fail(Errc::io_error, "cannot create " + dir.string() + ": " + ec.message());
    }
  }
  for (const auto& dir : {home.conf(), home.data(), home.log(), home.run()}) {
    if (::lstat(dir.c_str(), &st) != 0) {
      continue;  // no data/ with LDAP, say
    }
    if (!S_ISDIR(st.st_mode)) {
      continue;  // a symlink (a store shared between homes): never followed
    }
    ZMPROXY_TRY(give_tree(dir, user, visited));
  }
  return {};
}

Result<void> become(const ServiceUser& user, bool keep_bind) {
  if (keep_bind && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    return fail(Errc::io_error, os_error("prctl(PR_SET_KEEPCAPS)"));
  }
  // glibc applies these to every thread of the process.
  if (::setgroups(1, &user.gid) != 0) {
    return fail(Errc::io_error, os_error("setgroups for " + user.name));
  }
  if (::setresgid(user.gid, user.gid, user.gid) != 0) {
    return fail(Errc::io_error, os_error("setresgid for " + user.name));
  }
  if (::setresuid(user.uid, user.uid, user.uid) != 0) {
    return fail(Errc::io_error, os_error("setresuid for " + user.name));
  }
  if (keep_bind) {
    if (set_thread_capabilities(1u << CAP_NET_BIND_SERVICE) != 0) {
      return fail(Errc::io_error, os_error("capset(CAP_NET_BIND_SERVICE)"));
    }
    ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return fail(Errc::io_error, os_error("prctl(PR_SET_NO_NEW_PRIVS)"));
  }
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return fail(Errc::io_error, os_error("prctl(PR_SET_DUMPABLE)"));
  }
  // There is no way back.
  if (::setresuid(0, 0, 0) == 0 || ::geteuid() == 0) {
    return fail(Errc::internal, "still able to become root after dropping to " + user.name);
  }
  return {};
}

void drop_thread_capabilities() noexcept {
  if (::geteuid() != 0) {
    [[maybe_unused]] const int ignored = set_thread_capabilities(0);
  }
}

void forbid_new_privileges() noexcept {
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

Result<void> drop_root(const std::string& user_name,
                       const core::HomePaths& home,
                       bool keep_bind,
                       std::string_view who) {
  auto user = service_user_to_become(user_name);
  if (!user) {
    return fail(user.error().code, std::string(who) + ": " + user.error().message);
  }
  if (!*user) {
    forbid_new_privileges();
    return {};
  }
  if (auto handed = hand_home_to(home, **user); !handed) {
    return fail(handed.error().code, std::string(who) + ": " + handed.error().message);
  }
  if (auto ok = become(**user, keep_bind); !ok) {
    return fail(ok.error().code, std::string(who) + ": " + ok.error().message);
  }
  return {};
}

}  // namespace zmproxy::process

#include "lib/process/service_user.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

using namespace zmproxy;

namespace {
uid_t owner_of(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_uid;
}
}  // namespace

TEST_CASE("the service user: none to become unless root, and a missing one is one line with the fix",
          "[server][privileges]") {
  auto user = process::service_user_to_become("zmproxy-no-such-user");
  if (::geteuid() != 0) {
    REQUIRE(user);
    CHECK_FALSE(user->has_value());
    return;
  }
  REQUIRE_FALSE(user);
  CHECK(user.error().message.find("useradd --system") != std::string::npos);
  CHECK(user.error().message.find("zimbra_user") != std::string::npos);
  CHECK(user.error().message.find('\n') == std::string::npos);
  auto root = process::service_user_to_become("root");
  REQUIRE_FALSE(root);
  CHECK(root.error().message.find("is root") != std::string::npos);
}

TEST_CASE("the home is handed to the service user without following symlinks",
          "[server][privileges]") {
  if (::geteuid() != 0) {
    SUCCEED("not root: nothing to hand over");
    return;
  }
  test::TempDir dir;
  ::chmod(dir.path().c_str(), 0711);  // mkdtemp's 0700 would stop the user above the home
  const core::HomePaths home{dir.path() / "home"};
  std::filesystem::create_directories(home.conf() / "domaincerts");
  std::ofstream(home.conf() / "zmproxy.key") << "key";
  std::filesystem::permissions(home.conf() / "zmproxy.key", std::filesystem::perms::owner_read |
                                                                 std::filesystem::perms::owner_write);
  std::filesystem::permissions(home.home, std::filesystem::perms::owner_all);
  std::ofstream(dir.path() / "outside") << "not the user's";
  std::filesystem::create_symlink(dir.path() / "outside", home.conf() / "link");
  std::filesystem::create_directories(dir.path() / "shared-data");
  std::filesystem::create_directory_symlink(dir.path() / "shared-data", home.data());
  const process::ServiceUser nobody{"nobody", 65534, 65534};
  REQUIRE(process::hand_home_to(home, nobody));
  CHECK(owner_of(home.conf()) == 65534);
  CHECK(owner_of(home.conf() / "domaincerts") == 65534);
  CHECK(owner_of(home.conf() / "zmproxy.key") == 65534);
  CHECK(owner_of(home.run()) == 65534);  // created
  CHECK(owner_of(home.log()) == 65534);
  CHECK(owner_of(dir.path() / "outside") == 0);      // not through the symlink
  CHECK(owner_of(dir.path() / "shared-data") == 0);  // a symlinked data/ is left alone
  struct stat st {};
  REQUIRE(::stat((home.conf() / "zmproxy.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);  // modes kept
  REQUIRE(::stat(home.home.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0710);  // searchable by the user's group, nothing more
  CHECK(st.st_gid == 65534);
}

TEST_CASE("a home the user cannot reach through its parents is refused", "[server][privileges]") {
  if (::geteuid() != 0) {
    SUCCEED("not root");
    return;
  }
  test::TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms::owner_all);
  const core::HomePaths home{dir.path() / "home"};
  std::filesystem::create_directories(home.conf());
  auto r = process::hand_home_to(home, process::ServiceUser{"nobody", 65534, 65534});
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("chmod o+x " + dir.path().string()) != std::string::npos);
}

TEST_CASE("becoming the user is for good, keeps only the bind capability, no new privileges",
          "[server][privileges]") {
  if (::geteuid() != 0) {
    SUCCEED("not root");
    return;
  }
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Exit codes say what failed; the parent checks 0.
    if (!process::become(process::ServiceUser{"nobody", 65534, 65534}, true)) _exit(1);
    if (::getuid() != 65534 || ::geteuid() != 65534 || ::getgid() != 65534) _exit(2);
    if (::setuid(0) == 0) _exit(3);
    if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) _exit(4);
    if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) _exit(5);
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("CapEff:", 0) == 0 && std::stoull(line.substr(7), nullptr, 16) != (1ull << 10)) {
        _exit(6);
      }
    }
    _exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

#include "lib/core/atomic_file.hpp"
#include "lib/core/file_owner.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

using namespace zmproxy;

TEST_CASE("root's files in a directory the service user owns go to that user", "[core][file]") {
  if (::geteuid() != 0) {
    SUCCEED("not root: files keep their creator, nothing to hand over");
    return;
  }
  test::TempDir dir;
  const auto owned = dir.path() / "run";
  std::filesystem::create_directories(owned);
  const uid_t uid = 65534;  // nobody
  const gid_t gid = 65534;
  REQUIRE(::chown(owned.c_str(), uid, gid) == 0);
  REQUIRE(core::write_file_atomic(owned / "state", "x\n", 0600));
  struct stat st {};
  REQUIRE(::stat((owned / "state").c_str(), &st) == 0);
  CHECK(st.st_uid == uid);
  CHECK(st.st_gid == gid);
  CHECK((st.st_mode & 0777) == 0600);
  // A directory root made just now under the user's goes to the user too.
  std::filesystem::create_directories(owned / "confgen");
  REQUIRE(core::write_file_atomic(owned / "confgen" / "key", "k\n", 0600));
  REQUIRE(::stat((owned / "confgen").c_str(), &st) == 0);
  CHECK(st.st_uid == uid);
  REQUIRE(::stat((owned / "confgen" / "key").c_str(), &st) == 0);
  CHECK(st.st_uid == uid);
  // A root-owned directory: the file stays root's.
  REQUIRE(core::write_file_atomic(dir.path() / "mine", "y\n", 0600));
  REQUIRE(::stat((dir.path() / "mine").c_str(), &st) == 0);
  CHECK(st.st_uid == 0);
}

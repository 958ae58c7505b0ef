#include "lib/core/atomic_file.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

using namespace zmproxy;

TEST_CASE("atomic write replaces a file whole and applies the mode", "[core][file]") {
  test::TempDir dir;
  const auto file = dir.path() / "f.txt";
  REQUIRE(core::write_file_atomic(file, "first\n", 0600));
  REQUIRE(core::write_file_atomic(file, "second\n", 0640));
  CHECK(core::read_file(file).value() == "second\n");
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  // No temporary file is left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
  }
  CHECK(entries == 1);
}

TEST_CASE("reading a missing file is not_found, and writing into a missing directory fails",
          "[core][file]") {
  test::TempDir dir;
  auto r = core::read_file(dir.path() / "nope");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::not_found);
  auto w = core::write_file_atomic(dir.path() / "no" / "such" / "dir", "x");
  REQUIRE_FALSE(w);
  CHECK(w.error().code == Errc::io_error);
  CHECK(w.error().message.find("no/such") != std::string::npos);
}

TEST_CASE("root does not write through a directory link another user made", "[core][file]") {
  if (::geteuid() != 0) {
    WARN("not root: the check applies to root only");
    return;
  }
  test::TempDir dir;
  const auto owned = dir.path() / "conf";  // a directory the service user owns
  const auto target = dir.path() / "etc";  // where its link points
  std::filesystem::create_directory(owned);
  std::filesystem::create_directory(target);
  REQUIRE(::chown(owned.c_str(), 65534, 65534) == 0);
  std::filesystem::create_directory_symlink(target, owned / "confgen");
  REQUIRE(::lchown((owned / "confgen").c_str(), 65534, 65534) == 0);

  auto r = core::write_file_atomic(owned / "confgen" / "passwd", "x\n");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::permission_denied);
  CHECK_THAT(r.error().message, Catch::Contains("symbolic link owned by another user"));
  CHECK_FALSE(std::filesystem::exists(target / "passwd"));
  CHECK(std::filesystem::is_empty(target));

  // A link root made itself (a store shared between homes) is followed.
  std::filesystem::create_directory_symlink(target, owned / "data");
  REQUIRE(core::write_file_atomic(owned / "data" / "prov.ldif", "y\n"));
  CHECK(core::read_file(target / "prov.ldif").value() == "y\n");
}

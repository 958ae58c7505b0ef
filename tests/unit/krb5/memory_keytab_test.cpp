// MemoryKeytab and AcceptorCredentials::acquire over keytab files written
// here byte by byte (MIT's format 0x0502), no KDC needed: the copy, its
// unique name, its life after the file is gone and its end with the last
// reference (looked at through MIT's own API), and the one-line failures.

#include "lib/krb5/memory_keytab.hpp"

#include <unistd.h>

#include "lib/krb5/gss_acceptor.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <krb5.h>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace zmproxy;
using namespace zmproxy::krb5;

namespace {

struct Entry {
  std::vector<std::string> components;  // "imap", "mail.unit.test"
  std::uint8_t kvno = 1;
  std::uint16_t enctype = 18;  // aes256-cts-hmac-sha1-96
  std::string key = std::string(32, 'k');
};

constexpr const char* k_realm = "UNIT.TEST";

void put16(std::string& out, unsigned v) {
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, v >> 16);
  put16(out, v & 0xffff);
}
void counted(std::string& out, const std::string& s) {
  put16(out, static_cast<unsigned>(s.size()));
  out += s;
}

// A keytab file as MIT writes it (src/lib/krb5/keytab/kt_file.c, version 2).
std::string keytab_bytes(const std::vector<Entry>& entries) {
  std::string out("\x05\x02", 2);
  for (const Entry& e : entries) {
    std::string body;
    put16(body, static_cast<unsigned>(e.components.size()));
    counted(body, k_realm);
    for (const std::string& c : e.components) {
      counted(body, c);
    }
    put32(body, 1);           // KRB5_NT_PRINCIPAL
    put32(body, 1700000000);  // timestamp
    body += static_cast<char>(e.kvno);
    put16(body, e.enctype);
    counted(body, e.key);
    put32(out, static_cast<std::uint32_t>(body.size()));
    out += body;
  }
  return out;
}

std::string write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path.string();
}

const std::vector<Entry> k_entries = {
    {{"imap", "mail.unit.test"}, 1, 18, std::string(32, 'a')},
    {{"imap", "mail.unit.test"}, 2, 18, std::string(32, 'b')},
    {{"pop", "mail.unit.test"}, 1, 17, std::string(16, 'c')},
};

struct Seen {
  std::string principal;
  int kvno;
  int enctype;
  std::string key;
};

// The entries of a keytab by name, through MIT's API (a reference of our own
// for the duration).
std::vector<Seen> entries_of(const std::string& name) {
  krb5_context context = nullptr;
  REQUIRE(krb5_init_context(&context) == 0);
  krb5_keytab keytab = nullptr;
  REQUIRE(krb5_kt_resolve(context, name.c_str(), &keytab) == 0);
  std::vector<Seen> out;
  krb5_kt_cursor cursor = nullptr;
  if (krb5_kt_start_seq_get(context, keytab, &cursor) == 0) {
    krb5_keytab_entry entry{};
    while (krb5_kt_next_entry(context, keytab, &entry, &cursor) == 0) {
      char* text = nullptr;
      REQUIRE(krb5_unparse_name(context, entry.principal, &text) == 0);
      out.push_back(
          Seen{text, static_cast<int>(entry.vno), static_cast<int>(entry.key.enctype),
               std::string(reinterpret_cast<const char*>(entry.key.contents), entry.key.length)});
      krb5_free_unparsed_name(context, text);
      krb5_free_keytab_entry_contents(context, &entry);
    }
    krb5_kt_end_seq_get(context, keytab, &cursor);
  }
  krb5_kt_close(context, keytab);
  krb5_free_context(context);
  return out;
}

void check_one_line(const Error& error, const std::string& path) {
  INFO(error.message);
  CHECK(error.message.rfind("keytab " + path, 0) == 0);
  CHECK(error.message.find('\n') == std::string::npos);
}

}  // namespace

TEST_CASE("a keytab file is copied whole into a process-unique in-memory keytab", "[krb5]") {
  test::TempDir dir;
  const std::string path = write_file(dir.path() / "proxy.keytab", keytab_bytes(k_entries));
  auto first = MemoryKeytab::copy_file(path);
  REQUIRE(first);
  auto second = MemoryKeytab::copy_file(path);
  REQUIRE(second);
  const std::string prefix = "MEMORY:zmproxy-" + std::to_string(::getpid()) + "-";
  CHECK(first->name().rfind(prefix, 0) == 0);
  CHECK(second->name().rfind(prefix, 0) == 0);
  CHECK(first->name() != second->name());
  CHECK(first->entries() == 3);

  const std::vector<Seen> seen = entries_of(first->name());
  REQUIRE(seen.size() == 3);  // in the file's order, keys and all
  for (std::size_t i = 0; i < seen.size(); ++i) {
    const Entry& e = k_entries[i];
    CHECK(seen[i].principal == e.components[0] + "/" + e.components[1] + "@" + k_realm);
    CHECK(seen[i].kvno == e.kvno);
    CHECK(seen[i].enctype == e.enctype);
    CHECK(seen[i].key == e.key);
  }
}

TEST_CASE("the in-memory copy outlives the file and ends with its last reference", "[krb5]") {
  test::TempDir dir;
  const std::string path = write_file(dir.path() / "proxy.keytab", keytab_bytes(k_entries));
  std::string name;
  {
    auto copy = MemoryKeytab::copy_file(path);
    REQUIRE(copy);
    name = copy->name();
    std::filesystem::remove(path);
    CHECK(entries_of(name).size() == 3);
    MemoryKeytab moved = std::move(*copy);  // the reference moves with it
    CHECK(moved.name() == name);
    CHECK(entries_of(name).size() == 3);
  }
  // Resolving the name now makes a new, empty keytab: the keys are gone.
  CHECK(entries_of(name).empty());
}

TEST_CASE("a keytab that cannot be copied is refused in one line naming it", "[krb5]") {
  test::TempDir dir;
  const std::string missing = (dir.path() / "no-such.keytab").string();
  auto r = MemoryKeytab::copy_file(missing);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::not_found);
  CHECK(r.error().message == "keytab " + missing + ": cannot read it: No such file or directory");

  const std::string directory = (dir.path() / "a-directory").string();
  std::filesystem::create_directory(directory);
  r = MemoryKeytab::copy_file(directory);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::invalid_argument);
  CHECK(r.error().message == "keytab " + directory + ": not a regular file");

  const std::string fifo = (dir.path() / "a-fifo").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  r = MemoryKeytab::copy_file(fifo);  // refused, not waited on
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "keytab " + fifo + ": not a regular file");

  if (::geteuid() != 0) {
    const std::string unreadable = write_file(dir.path() / "mode-000", keytab_bytes(k_entries));
    REQUIRE(::chmod(unreadable.c_str(), 0) == 0);
    r = MemoryKeytab::copy_file(unreadable);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::permission_denied);
    CHECK(r.error().message == "keytab " + unreadable + ": cannot read it: Permission denied");
  }

  struct Bad {
    const char* name;
    std::string bytes;
    const char* says;
  };
  // MIT reads a keytab cut short as ending there (a half-written entry is
  // no entry): cut inside the first entry, none is left.
  std::string truncated = keytab_bytes(k_entries);
  truncated.resize(20);
  std::vector<Entry> too_many(k_max_keytab_entries + 1, k_entries[0]);
  const std::vector<Bad> bad = {
      {"empty", "", "empty file, not a keytab"},
      {"garbage", "this is not a keytab\n", ""},
      {"header only", std::string("\x05\x02", 2), "holds no keys"},
      {"truncated", truncated, "holds no keys"},
      {"too many", keytab_bytes(too_many), "more than 4096 entries"},
  };
  for (const Bad& b : bad) {
    INFO(b.name);
    const std::string path = write_file(dir.path() / "bad.keytab", b.bytes);
    r = MemoryKeytab::copy_file(path);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
    check_one_line(r.error(), path);
    CHECK(r.error().message.find(b.says) != std::string::npos);
  }
}

TEST_CASE("a keytab cut short is copied as MIT reads it: the whole entries before the cut",
          "[krb5]") {
  test::TempDir dir;
  std::string bytes = keytab_bytes(k_entries);
  bytes.resize(bytes.size() - 10);
  const std::string path = write_file(dir.path() / "cut.keytab", bytes);
  auto copy = MemoryKeytab::copy_file(path);
  REQUIRE(copy);
  CHECK(copy->entries() == 2);
  CHECK(entries_of(copy->name()).size() == 2);
}

TEST_CASE("acceptor credentials name their principal in full and keep the file's path", "[krb5]") {
  test::TempDir dir;
  const std::string path = write_file(dir.path() / "proxy.keytab", keytab_bytes(k_entries));
  auto imap = AcceptorCredentials::acquire(path, "imap/mail.unit.test@UNIT.TEST");
  REQUIRE(imap);
  CHECK((*imap)->keytab() == path);
  CHECK((*imap)->principal() == "imap/mail.unit.test@UNIT.TEST");
  CHECK((*imap)->principal_display() == "imap/mail.unit.test@UNIT.TEST");

  auto any = AcceptorCredentials::acquire(path, "");
  REQUIRE(any);
  CHECK((*any)->principal().empty());
  CHECK((*any)->principal_display() == "(any in keytab)");

  auto smtp = AcceptorCredentials::acquire(path, "smtp/mail.unit.test@UNIT.TEST");
  REQUIRE_FALSE(smtp);
  CHECK(smtp.error().code == Errc::invalid_argument);
  check_one_line(smtp.error(), path + " for smtp/mail.unit.test@UNIT.TEST");

  std::filesystem::remove(path);
  auto gone = AcceptorCredentials::acquire(path, "imap/mail.unit.test@UNIT.TEST");
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == Errc::not_found);
  check_one_line(gone.error(), path);
  CHECK((*imap)->principal_display() == "imap/mail.unit.test@UNIT.TEST");
}

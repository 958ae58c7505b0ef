// The FileStore's record index: index_ldif (the dn lines only) against the
// full LDIF parser, tree keys against their definition, StoreIndex's order.

#include "lib/provisioning/store_index.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <tuple>
#include <vector>

#include "lib/provisioning/dn.hpp"
#include "lib/provisioning/ldif.hpp"

using namespace zmproxy;
using namespace zmproxy::provisioning;

namespace {

// The definition: the normalized RDNs from the root down, joined by \x01.
std::string reference_key(std::string_view dn) {
  const auto rdns = split_dn(normalize_dn(dn));
  std::string key;
  for (auto it = rdns.rbegin(); it != rdns.rend(); ++it) {
    if (!key.empty()) {
      key += '\x01';
    }
    key += *it;
  }
  return key;
}

struct Found {
  std::string dn;
  std::size_t offset;
  std::size_t length;
};

std::vector<Found> index_of(std::string_view text) {
  std::vector<Found> out;
  auto r = index_ldif(text, "t.ldif", [&](std::string_view dn, std::size_t offset, std::size_t length) {
    out.push_back({std::string(dn), offset, length});
  });
  if (!r) {
    FAIL("index_ldif: " << r.error().message);
  }
  return out;
}

std::string index_error(std::string_view text) {
  auto r = index_ldif(text, "t.ldif", [](std::string_view, std::size_t, std::size_t) {});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::parse_error);
  return r.error().message;
}

bool istarts_with_dn(std::string_view text, std::size_t offset) {
  const std::string_view head = text.substr(offset, 3);
  return head == "dn:" || head == "DN:" || head == "Dn:" || head == "dN:";
}

std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += '\r';
    }
    out += c;
  }
  return out;
}

}  // namespace

TEST_CASE("store index: a tree key is the normalized RDNs from the root down", "[store_index]") {
  for (const char* dn :
       {"uid=User1,ou=People,dc=Example,dc=COM", "cn=config,cn=zimbra",
        "cn=mbox1.example.com,cn=servers,cn=zimbra", "uid=a_b-c@d,dc=x", "A=B=C,D=E", "x",
        "dc=com",
        // the slow path
        "uid=a b,dc=x", "uid = A , dc = X", "cn=a\\,b,dc=x", "cn=a\\2Cb,dc=x", "a=b,,c=d", ",a=b",
        "a=b,", "uid=\xc3\xbc,dc=x", "cn=a+sn=b,dc=x", " cn=x ,dc=y", "cn=x\\ ,dc=y", "#x=y"}) {
    INFO(dn);
    CHECK(tree_key(dn) == reference_key(dn));
    std::string appended = "prefix";
    append_tree_key(appended, dn);
    CHECK(appended == "prefix" + reference_key(dn));
  }
  CHECK(tree_key("uid=a,ou=people,dc=example,dc=com") == "dc=com\x01" "dc=example\x01ou=people\x01uid=a");
}

// Found by tests/fuzz/ldif_fuzz.cpp (corpus/ldif/fold_inside_dn_keyword): a
// fold may split the "dn:" keyword itself; parse_ldif unfolds first and read
// the record, index_ldif looked for "dn:" before unfolding and refused it.
TEST_CASE("store index: a fold inside the dn keyword (fuzz ldif)", "[store_index]") {
  for (const std::string& text :
       {std::string("DN\n :\x07\x00\x00\xa5", 9), std::string("d\n n: dc=com\ndc: com\n"),
        // corpus/ldif/fold_inside_version: "version:" folded too.
        std::string("ve\n rsion: 1\n\nd\n n: dc=com\ndc: com\n")}) {
    const auto parsed = parse_ldif(text, "t.ldif");
    REQUIRE(parsed);
    const auto found = index_of(text);
    REQUIRE(found.size() == 1);
    CHECK(found[0].dn == parsed->front().dn);
    CHECK(found[0].offset + found[0].length == text.size());
  }
}

TEST_CASE("store index: index_ldif finds the records parse_ldif reads", "[store_index]") {
  const std::vector<std::string> texts = {
      "",
      "\n\n",
      "# only a comment\n",
      "dn: dc=com\nobjectClass: dcObject\ndc: com\n",
      "dn: dc=com\ndc: com",  // no newline at the end
      "version: 1\n\n# comment\n continued\ndn: dc=com\ndc: com\n\n\n\ndn: dc=example,dc=com\n"
      "# a comment inside\ndc: example\n\n",
      "dn: uid=a-very-long-user-name-that-needs-folding,ou=people,dc=some-long-domai\n"
      " n,dc=example,dc=com\nuid: a\n\n",
      "dn:\n uid=folded,dc=x\nuid: folded\n",
      "dn:: ZGM9ZXhhbXBsZSxkYz1jb20=\ndc: example\n\ndn:dc=nospace\ndc: nospace\n",
      "dn:    dc=spaces\ndc: x\n\n",
      "DN: dc=upper\ndc: x\n",
      "dn: dc=a\ndc: a\n\ndn: dc=a\ndc: again\n\n",  // the same DN twice
      "dn: dc=a\ndescription: x\n y\n\n\ndn: dc=b\n\ndn: dc=c\n",
  };
  for (const std::string& lf : texts) {
    for (const std::string& text : {lf, crlf(lf)}) {
      INFO(text);
      const auto parsed = parse_ldif(text, "t.ldif");
      REQUIRE(parsed);
      const auto found = index_of(text);
      REQUIRE(found.size() == parsed->size());
      for (std::size_t i = 0; i < found.size(); ++i) {
        CHECK(found[i].dn == parsed->at(i).dn);
        REQUIRE(found[i].offset + found[i].length <= text.size());
        auto one = parse_ldif_record(std::string_view(text).substr(found[i].offset, found[i].length),
                                     "t.ldif", 1);
        REQUIRE(one);
        CHECK(one->dn == parsed->at(i).dn);
        CHECK(one->attrs == parsed->at(i).attrs);
        // The record starts at its dn line and ends at a newline or the end.
        CHECK(istarts_with_dn(text, found[i].offset));
        const std::size_t end = found[i].offset + found[i].length;
        CHECK((end == text.size() || text[end - 1] == '\n'));
      }
    }
  }
}

TEST_CASE("store index: index_ldif errors name the file and the line", "[store_index]") {
  CHECK(index_error("objectClass: x\n") == "t.ldif:1: a record must start with 'dn:'");
  CHECK(index_error("# c\n\ndn: dc=a\n\ncn: x\n") == "t.ldif:5: a record must start with 'dn:'");
  CHECK(index_error("dn: dc=a\n\ndn:   \n") == "t.ldif:3: empty dn");
  CHECK(index_error(crlf("dn: dc=a\n\ndn:\n")) == "t.ldif:3: empty dn");
  CHECK(index_error("dn: dc=a\n\n\ndn:: !!!!\n") == "t.ldif:4: invalid base64 value of dn");
  CHECK(index_error("dn: dc=a\n\ndn:< file:///etc/passwd\n") ==
        "t.ldif:3: URL values (attr:< url) are not supported");
  CHECK(ldif_line_at("a\nb\nc", 0) == 1);
  CHECK(ldif_line_at("a\nb\nc", 4) == 3);
  CHECK(ldif_line_at("a\nb\nc", 99) == 3);
}

TEST_CASE("store index: records in tree order, the last of one DN counting", "[store_index]") {
  const std::string text =
      "dn: uid=b,ou=people,dc=x\nuid: b\n\n"
      "dn: dc=x\ndc: x\n\n"
      "dn: uid=a,ou=people,dc=x\nuid: a\n\n"
      "dn: ou=people,dc=x\nou: people\n\n"
      "dn: UID=A,ou=People,dc=X\nuid: second a\n\n";
  auto built = StoreIndex::build(text, "t.ldif");
  REQUIRE(built);
  StoreIndex& index = *built;
  REQUIRE(index.size() == 4);
  CHECK(index.key(0) == "dc=x");
  CHECK(index.key(1) == "dc=x\x01ou=people");
  CHECK(index.key(2) == "dc=x\x01ou=people\x01uid=a");
  CHECK(index.key(3) == "dc=x\x01ou=people\x01uid=b");
  const std::size_t a = index.find(tree_key("uid=a,ou=people,dc=x"));
  REQUIRE(a == 2);
  CHECK(text.substr(index.slot(a).offset, index.slot(a).length) ==
        "dn: UID=A,ou=People,dc=X\nuid: second a\n");
  CHECK(index.find("dc=y") == StoreIndex::npos);
  CHECK(index.has_children(0));
  CHECK(index.has_children(1));
  CHECK_FALSE(index.has_children(2));
  CHECK_FALSE(index.has_children(3));

  const std::size_t c = index.insert(tree_key("uid=c,ou=people,dc=x"), StoreIndex::Slot{});
  CHECK(c == 4);
  const std::size_t x1 = index.insert(tree_key("dc=x1"), StoreIndex::Slot{});
  CHECK(x1 == 5);  // "dc=x1" sorts after dc=x's whole subtree
  CHECK_FALSE(index.has_children(4));
  index.erase(index.find(tree_key("uid=b,ou=people,dc=x")));
  REQUIRE(index.size() == 5);
  CHECK(index.key(3) == "dc=x\x01ou=people\x01uid=c");
  CHECK(index.lower_bound("dc=x\x01ou=people\x01uid=bb") == 3);
}

TEST_CASE("store index: a text in tree order is taken as it comes", "[store_index]") {
  std::string text;
  text += "dn: dc=x\n\ndn: ou=people,dc=x\n\n";
  for (int i = 0; i < 100; ++i) {
    text += "dn: uid=u" + std::to_string(1000 + i) + ",ou=people,dc=x\nuid: u\n\n";
  }
  auto built = StoreIndex::build(text, "t.ldif");
  REQUIRE(built);
  REQUIRE(built->size() == 102);
  for (std::size_t i = 1; i < built->size(); ++i) {
    CHECK(built->key(i - 1) < built->key(i));
    CHECK(built->slot(i - 1).offset < built->slot(i).offset);
  }
}

TEST_CASE("store index: a text that is not LDIF is refused", "[store_index]") {
  auto built = StoreIndex::build("dn: dc=x\n\nnot ldif at all\n", "prov.ldif");
  REQUIRE_FALSE(built);
  CHECK(built.error().message == "prov.ldif:3: a record must start with 'dn:'");
}

// The FileStore over its index: what another process or a hand edit does to
// the file is seen by the next call; damage is reported with the line.

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "lib/provisioning/file_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);  // in place, as an editor might
  out << text;
}

std::string account_record(const std::string& uid, const std::string& host) {
  return "dn: uid=" + uid + ",ou=people,dc=x\nobjectClass: zimbraAccount\nuid: " + uid +
         "\nzimbraMailHost: " + host + "\n\n";
}

const std::string k_tree = "dn: dc=x\ndc: x\n\ndn: ou=people,dc=x\nou: people\n\n";

}  // namespace

TEST_CASE("file store: an edit of the file by someone else is seen by the next read",
          "[store_index]") {
  zmproxy::test::TempDir temp;
  const auto file = temp.path() / "prov.ldif";
  write_text(file, k_tree + account_record("a", "one.test") + account_record("b", "one.test"));
  auto store = FileStore::open(file);
  REQUIRE(store);
  auto a = (*store)->get("uid=a,ou=people,dc=x");
  REQUIRE(a);
  REQUIRE(*a);
  CHECK((*a)->first("zimbraMailHost") == "one.test");

  // Rewritten in place, longer, with the records in another order and a new one.
  write_text(file, account_record("c", "three.test") + k_tree +
                       account_record("b", "two-and-more.test") +
                       account_record("a", "two-and-more.test"));
  a = (*store)->get("uid=a,ou=people,dc=x");
  REQUIRE(a);
  REQUIRE(*a);
  CHECK((*a)->first("zimbraMailHost") == "two-and-more.test");
  auto c = (*store)->get("UID=C,OU=People,DC=X");
  REQUIRE(c);
  REQUIRE(*c);
  auto all = (*store)->search("dc=x", Scope::subtree, "(objectClass=zimbraAccount)");
  REQUIRE(all);
  CHECK(all->size() == 3);

  // A write goes to the file as it is now, not as it was read.
  REQUIRE((*store)->modify("uid=b,ou=people,dc=x", {{ModOp::replace, "zimbraMailHost", {"four.test"}}}));
  auto again = FileStore::open(file);
  REQUIRE(again);
  auto b = (*again)->get("uid=b,ou=people,dc=x");
  REQUIRE(b);
  REQUIRE(*b);
  CHECK((*b)->first("zimbraMailHost") == "four.test");
  c = (*again)->get("uid=c,ou=people,dc=x");
  REQUIRE(c);
  CHECK(c->has_value());
}

TEST_CASE("file store: a damaged record is reported with its line, the rest still read",
          "[store_index]") {
  zmproxy::test::TempDir temp;
  const auto file = temp.path() / "prov.ldif";
  write_text(file, k_tree + account_record("a", "one.test") +
                       "dn: uid=bad,ou=people,dc=x\nuid: bad\nno colon here\n\n" +
                       account_record("z", "one.test"));
  auto store = FileStore::open(file);
  REQUIRE(store);
  auto bad = (*store)->get("uid=bad,ou=people,dc=x");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::parse_error);
  CHECK(bad.error().message == file.string() + ":14: expected 'attribute: value'");
  auto z = (*store)->get("uid=z,ou=people,dc=x");
  REQUIRE(z);
  CHECK(z->has_value());

  // A file that is not LDIF at all: every call says where.
  write_text(file, k_tree + "this is not ldif\n");
  auto broken = (*store)->get("dc=x");
  REQUIRE_FALSE(broken);
  CHECK(broken.error().message == file.string() + ":7: a record must start with 'dn:'");
}

TEST_CASE("file store: what is not a regular file is refused, not read or waited on",
          "[store_index]") {
  zmproxy::test::TempDir temp;
  const auto fifo = temp.path() / "fifo.ldif";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto from_fifo = FileStore::open(fifo);  // would block in open() for a writer
  REQUIRE_FALSE(from_fifo);
  CHECK(from_fifo.error().message.find("is not a regular file") != std::string::npos);
  const auto dir = temp.path() / "dir.ldif";
  std::filesystem::create_directory(dir);
  auto from_dir = FileStore::open(dir);  // would read as an empty store
  REQUIRE_FALSE(from_dir);
  CHECK(from_dir.error().message == dir.string() +
                                        " is not a regular file; move it away and restore the "
                                        "store from a backup (an LDIF file)");
}

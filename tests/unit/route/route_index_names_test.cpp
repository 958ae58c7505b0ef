#include "lib/route/route_index_names.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace zmproxy::route;

namespace {

std::string position_of(const NameTable& t, std::string_view name) {
  const std::uint32_t* p = t.find(name);
  return p == nullptr ? "none" : std::to_string(*p);
}

}  // namespace

TEST_CASE("a name table finds names in any ASCII case, the first added winning", "[route][index]") {
  NameTable t;
  const std::vector<std::string> names = {"User1@Example.com", "first@example.com", "USER1@example.COM", ""};
  for (std::size_t i = 0; i < names.size(); ++i) {
    t.add(names[i], static_cast<std::uint32_t>(i));
  }
  CHECK(t.size() == 2);  // the duplicate and "" are not added
  CHECK(position_of(t, "user1@example.com") == "0");
  CHECK(position_of(t, "USER1@EXAMPLE.COM") == "0");
  CHECK(position_of(t, "First@Example.Com") == "1");
  CHECK(position_of(t, "") == "none");
  CHECK(position_of(t, "user1@example.co") == "none");
  CHECK(position_of(t, "user1@example.comm") == "none");
  // Only ASCII letters fold: bytes beyond ASCII compare exactly.
  const std::string accented = "\xc3\xa9t\xc3\xa9@example.com";  // été
  t.add(accented, 7);
  CHECK(position_of(t, "\xc3\xa9T\xc3\xa9@EXAMPLE.com") == "7");
  CHECK(position_of(t, "\xc3\x89t\xc3\x89@example.com") == "none");  // ÉtÉ
  CHECK(NameTable::hash("AbC") == NameTable::hash("aBc"));
}

TEST_CASE("a name table grows and keeps every name", "[route][index]") {
  NameTable empty;
  CHECK(empty.find("anything") == nullptr);
  NameTable t;
  std::vector<std::string> names;
  for (int i = 0; i < 5000; ++i) {
    names.push_back("user" + std::to_string(i) + "@example.com");
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    t.add(names[i], static_cast<std::uint32_t>(i));
  }
  CHECK(t.size() == names.size());
  for (std::size_t i = 0; i < names.size(); i += 97) {
    CHECK(position_of(t, "USER" + std::to_string(i) + "@EXAMPLE.COM") == std::to_string(i));
  }
  CHECK(position_of(t, "user5000@example.com") == "none");
}

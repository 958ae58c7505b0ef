#include "lib/core/strings.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy::core;

TEST_CASE("case-insensitive comparison", "[core][strings]") {
  CHECK(iequals("zimbraVirtualHostName", "zimbravirtualhostname"));
  CHECK_FALSE(iequals("abc", "abd"));
  CHECK_FALSE(iequals("abc", "ab"));
  CHECK(istarts_with("Auth-User: x", "auth-user"));
}

TEST_CASE("trim and split", "[core][strings]") {
  CHECK(trim("  a b \r\n") == "a b");
  CHECK(trim("   ").empty());
  CHECK(split("a,,b", ',') == std::vector<std::string>{"a", "", "b"});
  CHECK(join({"a", "b"}, ", ") == "a, b");
}

TEST_CASE("edit distance", "[core][strings]") {
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("ABC", "abc") == 0);
  CHECK(edit_distance("", "abc") == 3);
}

TEST_CASE("shell quoting survives embedded quotes", "[core][strings]") {
  CHECK(shell_quote("plain") == "'plain'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
}

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

TEST_CASE("HTTP optional whitespace is spaces and tabs only", "[core][strings]") {
  CHECK(trim_ows(" \ta b\t ") == "a b");
  CHECK(trim_ows("\r\na\r\n") == "\r\na\r\n");
  CHECK(trim_ows(" \t ").empty());
  CHECK(trim_ows("").empty());
}

TEST_CASE("percent decoding", "[core][strings]") {
  using namespace std::string_literals;
  CHECK(percent_decode("a%20b%2fc", false) == "a b/c"s);
  CHECK(percent_decode("%C3%a9", false) == "\xC3\xA9"s);
  CHECK(percent_decode("%00", false) == "\0"s);  // decoded bytes are the caller's to judge
  CHECK(percent_decode("100%25", false) == "100%"s);
  CHECK(percent_decode("a+b", false) == "a+b"s);
  CHECK(percent_decode("a+b", true) == "a b"s);
  CHECK(percent_decode("%2B", true) == "+"s);
  CHECK(percent_decode("", true) == ""s);
  CHECK_FALSE(percent_decode("%", false).has_value());
  CHECK_FALSE(percent_decode("%4", false).has_value());
  CHECK_FALSE(percent_decode("a%4", false).has_value());
  CHECK_FALSE(percent_decode("%g0", false).has_value());
  CHECK_FALSE(percent_decode("%0g", false).has_value());
}

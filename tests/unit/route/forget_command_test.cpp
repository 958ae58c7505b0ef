#include "lib/route/forget_command.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy::route;

TEST_CASE("FORGET ALL and FORGET names", "[route][forget]") {
  auto all = parse_forget("FORGET ALL");
  REQUIRE(all);
  CHECK(all->all);
  CHECK(all->names.empty());
  auto names = parse_forget("FORGET john@example.com  Mary first 0b3a1c2e-1111-2222-3333-444455556666");
  REQUIRE(names);
  CHECK_FALSE(names->all);
  CHECK(names->names == std::vector<std::string>{"john@example.com", "Mary", "first",
                                                 "0b3a1c2e-1111-2222-3333-444455556666"});
  auto lower = parse_forget("FORGET all");  // a user called "all"
  REQUIRE(lower);
  CHECK_FALSE(lower->all);
  CHECK(lower->names == std::vector<std::string>{"all"});
}

TEST_CASE("FORGET's bounds: at most 100 names that are names and one line errors", "[route][forget]") {
  std::string hundred = "FORGET";
  for (int i = 0; i < 100; ++i) {
    hundred += " u" + std::to_string(i) + "@example.com";
  }
  CHECK(parse_forget(hundred));
  auto too_many = parse_forget(hundred + " one@more.com");
  REQUIRE_FALSE(too_many);
  CHECK(too_many.error().message.find("at most 100 names") != std::string::npos);
  for (const char* bad : {"FORGET", "FORGET   ", "FORGET ALL john", "FORGET john ALL", "FORGET @example.com",
                          "FORGET john@", "FORGET a@b@c", "FORGET john\tdoe", "FORGET john\x7f",
                          "FORGETALL", "FORGOT ALL"}) {
    INFO(bad);
    auto r = parse_forget(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find('\n') == std::string::npos);
  }
  CHECK_FALSE(parse_forget("FORGET " + std::string(257, 'a')));
  CHECK(parse_forget("FORGET " + std::string(256, 'a')));
  auto shown = parse_forget("FORGET bad@@name");
  REQUIRE_FALSE(shown);
  CHECK(shown.error().message == "not an account name: 'bad@@name' (1 to 256 bytes, no space or control byte, "
                                 "at most one '@' between two parts)");
  CHECK(is_forgettable_name("jos\xc3\xa9@example.com"));  // UTF-8 is a name's
}

#include "lib/proxy/mail/upstream_text.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy::proxy::mail;
using namespace std::string_literals;

TEST_CASE("login names with control characters never go upstream", "[parser]") {
  CHECK(safe_login_name("user1@example.com"));
  CHECK(safe_login_name("Ünïcode@example.com"));
  CHECK(safe_login_name("a b"));
  CHECK_FALSE(safe_login_name(""));
  CHECK_FALSE(safe_login_name("user\r\nX LOGOUT"));
  CHECK_FALSE(safe_login_name("user\n"));
  CHECK_FALSE(safe_login_name("us\0er"s));
  CHECK_FALSE(safe_login_name("tab\there"));
  CHECK_FALSE(safe_login_name("del\x7f"));
}

TEST_CASE("passwords and tokens without CR, LF or NUL go upstream", "[parser]") {
  CHECK(safe_secret("p@ss word\t\x01\xff"));
  CHECK(safe_secret(""));
  CHECK_FALSE(safe_secret("pw\r\nA LOGIN x y"));
  CHECK_FALSE(safe_secret("pw\r"));
  CHECK_FALSE(safe_secret("pw\n"));
  CHECK_FALSE(safe_secret("p\0w"s));
}

TEST_CASE("an ID value keeps printable ASCII within its bound", "[parser]") {
  CHECK(printable_ascii("Thunderbird", 64) == "Thunderbird");
  CHECK(printable_ascii("x\r\nZ1 LOGOUT\r\n", 64) == "xZ1 LOGOUT");
  CHECK(printable_ascii("a\0b\x7f\x80" "c"s, 64) == "abc");
  CHECK(printable_ascii("abcdef", 3) == "abc");
  CHECK(printable_ascii("", 3).empty());
}

TEST_CASE("only whole CRLF lines pass the upstream writer's check", "[parser]") {
  CHECK(clean_command_block("a1 LOGIN \"u\" \"p\"\r\n"));
  CHECK(clean_command_block("XOIP 192.0.2.1\r\nUSER u\r\nPASS p w\r\n"));
  CHECK_FALSE(clean_command_block(""));
  CHECK_FALSE(clean_command_block("USER u"));
  CHECK_FALSE(clean_command_block("USER u\n"));
  CHECK_FALSE(clean_command_block("USER u\rPASS x\r\n"));
  CHECK_FALSE(clean_command_block("USER u\nPASS x\r\n"));
  CHECK_FALSE(clean_command_block("USER u\0\r\n"s));
  CHECK_FALSE(clean_command_block("\n\r\n"));
}

TEST_CASE("the proxy's IMAP tag is fresh per random value and a valid tag", "[parser]") {
  CHECK(proxy_tag(0) == "zp0000000000000000");
  CHECK(proxy_tag(0x0123456789abcdefULL) == "zp0123456789abcdef");
  CHECK(proxy_tag(1) != proxy_tag(2));
  for (const char c : proxy_tag(0xfedcba9876543210ULL)) {
    CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')));
  }
}

#include "lib/throttle/throttle_keys.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy::throttle;
using namespace std::string_literals;

TEST_CASE("the IP counter key is Zimbra's, per protocol letter", "[throttle][keys]") {
  CHECK(ip_counter_key(MailProtocol::imap, "192.0.2.7") == "throttle:proto=i,ip=192.0.2.7");
  CHECK(ip_counter_key(MailProtocol::pop3, "192.0.2.7") == "throttle:proto=p,ip=192.0.2.7");
  CHECK(ip_counter_key(MailProtocol::imap, "2001:db8::7") == "throttle:proto=i,ip=2001:db8::7");
  CHECK(ip_counter_key(MailProtocol::pop3, "::1") == "throttle:proto=p,ip=::1");
  CHECK(ip_counter_key(MailProtocol::imap, "::ffff:192.0.2.7") == "throttle:proto=i,ip=::ffff:192.0.2.7");
}

TEST_CASE("the user counter key is Zimbra's, escaped as NGX_ESCAPE_MEMCACHED", "[throttle][keys]") {
  CHECK(user_counter_key("john@example.com") == "throttle:user=john@example.com");
  // Characters nginx leaves alone stay as they are.
  CHECK(user_counter_key("o'brien+tag@ex-ample.com") == "throttle:user=o'brien+tag@ex-ample.com");
  // Space, '%' and the controls become uppercase %XX, as ngx_escape_uri writes them.
  CHECK(user_counter_key("john smith@example.com") == "throttle:user=john%20smith@example.com");
  CHECK(user_counter_key("100%@example.com") == "throttle:user=100%25@example.com");
  CHECK(user_counter_key("a\r\nb") == "throttle:user=a%0D%0Ab");
  CHECK(user_counter_key("a\tb"s + '\0' + "c") == "throttle:user=a%09b%00c");
  // UTF-8 bytes are not escaped (nginx's table leaves 0x80..0xff alone).
  CHECK(user_counter_key("jos\xc3\xa9@example.com") == "throttle:user=jos\xc3\xa9@example.com");
}

TEST_CASE("the whitelist verdict key is Zimbra's", "[throttle][keys]") {
  CHECK(whitelist_verdict_key("192.0.2.7") == "whitelist:ip=192.0.2.7");
  CHECK(whitelist_verdict_key("2001:db8::7") == "whitelist:ip=2001:db8::7");
}

TEST_CASE("the failed-login key is ours, under zmproxy:, and wire-safe", "[throttle][keys]") {
  CHECK(failed_login_key("john@example.com", "192.0.2.7") ==
        "zmproxy:authfail:user=john@example.com,ip=192.0.2.7");
  CHECK(failed_login_key("john@example.com", "2001:db8::7") ==
        "zmproxy:authfail:user=john@example.com,ip=2001:db8::7");
  CHECK(failed_login_key("a b", "::1") == "zmproxy:authfail:user=a%20b,ip=::1");
}

TEST_CASE("a key over 250 bytes becomes its MD5, as every memcached key", "[throttle][keys]") {
  std::string user(300, 'a');
  user.append("@example.com");
  const std::string key = user_counter_key(user);
  CHECK(key.size() == 32);
  CHECK(key.find_first_not_of("0123456789abcdef") == std::string::npos);
}

TEST_CASE("parse_throttle_key reads back every key the builders write", "[throttle][keys]") {
  SECTION("IP counters, IPv4 and IPv6, both protocols") {
    for (const MailProtocol protocol : {MailProtocol::imap, MailProtocol::pop3}) {
      for (const char* address : {"192.0.2.7", "2001:db8::7", "::1", "::ffff:192.0.2.7"}) {
        const auto parsed = parse_throttle_key(ip_counter_key(protocol, address));
        REQUIRE(parsed);
        CHECK(parsed->kind == KeyKind::ip);
        CHECK(parsed->protocol == protocol);
        CHECK(parsed->address == address);
        CHECK(parsed->user.empty());
      }
    }
  }
  SECTION("user counters, escaping undone") {
    for (const std::string& user :
         {"john@example.com"s, "john smith@example.com"s, "100%@example.com"s, "a%20b@example.com"s,
          "a\r\nb"s, "jos\xc3\xa9@example.com"s, "a,ip=b"s}) {
      const auto parsed = parse_throttle_key(user_counter_key(user));
      REQUIRE(parsed);
      CHECK(parsed->kind == KeyKind::user);
      CHECK(parsed->user == user);
      CHECK(parsed->address.empty());
    }
  }
  SECTION("failed-login pairs: the address after the last ,ip=") {
    for (const std::string& user : {"john@example.com"s, "a b%c@example.com"s, "x,ip=1.2.3.4"s}) {
      for (const char* address : {"192.0.2.7", "2001:db8::7"}) {
        const auto parsed = parse_throttle_key(failed_login_key(user, address));
        REQUIRE(parsed);
        CHECK(parsed->kind == KeyKind::failed_logins);
        CHECK(parsed->user == user);
        CHECK(parsed->address == address);
      }
    }
  }
  SECTION("whitelist verdicts") {
    const auto parsed = parse_throttle_key(whitelist_verdict_key("2001:db8::7"));
    REQUIRE(parsed);
    CHECK(parsed->kind == KeyKind::whitelist_verdict);
    CHECK(parsed->address == "2001:db8::7");
  }
}

TEST_CASE("parse_throttle_key reads Zimbra's raw and lower-case escapes too", "[throttle][keys]") {
  const auto raw = parse_throttle_key(
      "throttle:user=a\x7f"
      "b");
  REQUIRE(raw);
  CHECK(raw->user ==
        "a\x7f"
        "b");
  const auto lower = parse_throttle_key("throttle:user=a%2fb");
  REQUIRE(lower);
  CHECK(lower->user == "a/b");
}

TEST_CASE("parse_throttle_key ignores keys it does not know", "[throttle][keys]") {
  for (const char* key :
       {"route:proto=imap;user=john@example.com", "alias:user=a;ip=1.2.3.4",
        "throttle:proto=x,ip=1.2.3.4", "throttle:proto=i,ip=", "throttle:proto=i;ip=1.2.3.4",
        "throttle:user=", "throttle:user=a%2", "throttle:user=a%zz",
        "whitelist:ip=", "zmproxy:authfail:user=a", "zmproxy:authfail:user=,ip=1.2.3.4",
        "zmproxy:authfail:user=a,ip=", "0123456789abcdef0123456789abcdef", ""}) {
    CAPTURE(key);
    CHECK_FALSE(parse_throttle_key(key));
  }
}

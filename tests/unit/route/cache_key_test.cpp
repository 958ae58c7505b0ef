#include "lib/route/cache_key.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy::route;
using namespace std::string_literals;

namespace {

bool is_lower_hex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

TEST_CASE("route and alias keys have Zimbra's formats", "[route]") {
  CHECK(route_key("imap", "john@example.com") == "route:proto=imap;user=john@example.com");
  CHECK(route_key("pop3ssl", "john@10.0.0.7") == "route:proto=pop3ssl;user=john@10.0.0.7");
  CHECK(route_id_key("httpssl", "a1b2c3d4-0000-1111-2222-333344445555", RouteKind::web) ==
        "route:proto=httpssl;id=a1b2c3d4-0000-1111-2222-333344445555");
  CHECK(route_id_key("httpssl", "a1b2", RouteKind::admin) == "route:proto=httpssl;admin=1;id=a1b2");
  CHECK(route_id_key("http", "a1b2", RouteKind::zx) == "route:proto=http;zx=1;id=a1b2");
  CHECK(alias_key("john", "192.0.2.10") == "alias:user=john;ip=192.0.2.10");
  CHECK(alias_key("john", "2001:db8::1") == "alias:user=john;ip=2001:db8::1");
  CHECK(alias_vhost_key("john", "mail.example.com") == "alias:user=john;vhost=mail.example.com");
}

TEST_CASE("safe_key escapes spaces, controls, DEL and '%' as uppercase %XX", "[route]") {
  CHECK(safe_key("a b") == "a%20b");
  CHECK(safe_key("a\rb\nc") == "a%0Db%0Ac");
  CHECK(safe_key("a\tb") == "a%09b");
  CHECK(safe_key("a\0b"s) == "a%00b");
  CHECK(safe_key("a\x7f"
                 "b") == "a%7Fb");
  CHECK(safe_key("a\x1f"
                 "b") == "a%1Fb");
  CHECK(safe_key("100%") == "100%25");
  CHECK(safe_key("plain@example.com;x=1") == "plain@example.com;x=1");
  // Bytes >= 0x80 (UTF-8) are valid in memcached keys and stay as they are.
  CHECK(safe_key("j\xc3\xbcrgen@b\xc3\xa4r.de") == "j\xc3\xbcrgen@b\xc3\xa4r.de");
  // The builders escape too.
  CHECK(route_key("imap", "john smith") == "route:proto=imap;user=john%20smith");
  CHECK(alias_vhost_key("j", "evil\r\nhost") == "alias:user=j;vhost=evil%0D%0Ahost");
}

TEST_CASE("safe_key keeps distinct inputs distinct", "[route]") {
  CHECK(safe_key("a b") != safe_key("a%20b"));
  CHECK(safe_key("a%20b") == "a%2520b");
  CHECK(route_key("imap", "a b") != route_key("imap", "a%20b"));
  CHECK(safe_key("a\nb") != safe_key("a%0Ab"));
  CHECK(safe_key("%") != safe_key("%25"));
}

TEST_CASE("keys over 250 bytes become the lowercase hex MD5", "[route]") {
  const std::string at_limit(250, 'k');
  CHECK(safe_key(at_limit) == at_limit);

  const std::string over_limit(251, 'k');
  const std::string hashed = safe_key(over_limit);
  CHECK(hashed.size() == 32);
  CHECK(is_lower_hex(hashed));
  CHECK(hashed != safe_key(std::string(252, 'k')));

  // The limit applies after escaping: 84 spaces escape to 252 bytes.
  const std::string spaces(84, ' ');
  const std::string escaped_hashed = safe_key(spaces);
  CHECK(escaped_hashed == "026352f929597219f3871e6c49050d8b");
  // 83 spaces escape to 249 bytes and are kept.
  CHECK(safe_key(std::string(83, ' ')).size() == 249);

  // A long login gives a hashed route key, still valid on the wire.
  const std::string long_user(300, 'u');
  const std::string key = route_key("imap", long_user);
  CHECK(key.size() == 32);
  CHECK(is_safe_key(key));
}

TEST_CASE("the hash is plain MD5, comparable with md5sum", "[route]") {
  // printf 'x%.0s' $(seq 1 251) | md5sum
  CHECK(safe_key(std::string(251, 'x')) == "9aa112cf3f550372e7ce6446e5befbb9");
}

TEST_CASE("a CR/LF injection attempt cannot reach the wire", "[route]") {
  const std::string key = route_key("imap", "u\r\nflush_all\r\n");
  CHECK(key == "route:proto=imap;user=u%0D%0Aflush_all%0D%0A");
  CHECK(key.find('\r') == std::string::npos);
  CHECK(key.find('\n') == std::string::npos);
  CHECK(key.find(' ') == std::string::npos);
  CHECK(is_safe_key(key));

  const std::string spaced = alias_key("u noreply\r\nset x 0 0 1\r\n1", "10.0.0.1");
  CHECK(spaced.find_first_of(" \r\n") == std::string::npos);
}

TEST_CASE("is_safe_key accepts only wire-safe keys", "[route]") {
  CHECK(is_safe_key("route:proto=imap;user=a@b"));
  CHECK(is_safe_key(std::string(250, 'k')));
  CHECK_FALSE(is_safe_key(std::string(251, 'k')));
  CHECK_FALSE(is_safe_key(""));
  CHECK_FALSE(is_safe_key("a b"));
  CHECK_FALSE(is_safe_key("a\r\nb"));
  CHECK_FALSE(is_safe_key("a\x7f"));
  CHECK(is_safe_key("j\xc3\xbcrgen"));
}

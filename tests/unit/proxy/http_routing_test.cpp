#include "lib/core/base64.hpp"
#include "lib/proxy/http/mail_mode.hpp"
#include "lib/proxy/http/public_url.hpp"
#include "lib/proxy/http/route_extract.hpp"
#include "lib/proxy/http/server_names.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace zmproxy::proxy::http;
using namespace std::string_literals;
using Kind = RouteKey::Kind;

namespace {

constexpr std::string_view k_id = "cc00ce85-8c0b-49eb-8e08-a8aab43ce836";

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(digits[u >> 4]);
    out.push_back(digits[u & 0x0f]);
  }
  return out;
}

// A ZM_AUTH_TOKEN value "<keyVersion>_<hmac>_<hex(fields)>".
std::string zm_token(std::string_view fields) {
  return "0_b0d5c2e5f9a6a1c3e0f1d2b3a4c5d6e7f8a9b0c1_" + hex(fields);
}

std::string token_for(std::string_view id) {
  return zm_token("id=" + std::to_string(id.size()) + ":" + std::string(id) +
                  ";exp=13:1196504658160;type=6:zimbra;");
}

std::string b64url(std::string_view bytes) {
  std::string s = zmproxy::core::base64_encode(bytes);
  for (char& c : s) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  while (!s.empty() && s.back() == '=') {
    s.pop_back();
  }
  return s;
}

std::string jwt(std::string_view payload_json) {
  return b64url(R"({"alg":"HS256","typ":"JWT"})") + "." + b64url(payload_json) + ".c2lnbmF0dXJl";
}

std::string basic(std::string_view user_pass) {
  return "Basic " + zmproxy::core::base64_encode(user_pass);
}

RouteKey user(std::string v) {
  return RouteKey{Kind::user, std::move(v), false};
}
RouteKey zid(std::string v) {
  return RouteKey{Kind::zimbra_id, std::move(v), false};
}
RouteKey iphash() {
  return RouteKey{};
}

std::string describe(const RouteKey& k) {
  const char* kind = k.kind == Kind::user ? "user" : k.kind == Kind::zimbra_id ? "zimbra_id" : "ip_hash";
  return std::string(kind) + ":" + k.value + (k.admin ? " (admin)" : "");
}

struct RouteCase {
  std::string target;
  std::string cookie;
  std::string authorization;
  RouteKey expected;
};

void check_routes(const std::vector<RouteCase>& cases) {
  for (const RouteCase& c : cases) {
    RequestView r;
    r.method = "GET";
    r.target = c.target;
    r.host = "mail.example.com";
    r.cookie = c.cookie;
    r.authorization = c.authorization;
    const RouteKey got = extract_route(r);
    INFO("target=" << c.target << " cookie=" << c.cookie << " authorization=" << c.authorization);
    INFO("got " << describe(got) << ", expected " << describe(c.expected));
    CHECK(got == c.expected);
  }
}

}  // namespace

// ---- Rule 1: REST --------------------------------------------------------------------

TEST_CASE("REST paths route by the user segment", "[http]") {
  const std::string cookie = "ZM_AUTH_TOKEN=" + token_for(k_id);
  check_routes({
      {"/home/john/Inbox", "", "", user("john")},
      {"/home/john@example.com/Calendar.ics", "", "", user("john@example.com")},
      {"/home/john%40example.com/Calendar?fmt=ics", "", "", user("john@example.com")},
      {"/home/~john/Briefcase/a.txt", "", "", user("john")},
      {"/service/home/john/Inbox", "", "", user("john")},
      {"/service/home/~john%40example.com/x?fmt=zip", "", "", user("john@example.com")},
      {"/home/john", "", "", user("john")},  // no trailing slash: still the user
      {"/home/%C3%A9mile/Inbox", "", "", user("\xC3\xA9mile")},
      {"/home/a+b/x", "", "", user("a+b")},  // '+' is literal in a path
      {"http://mail.example.com/home/john/Inbox", "", "", user("john")},  // absolute form
      // The token's owner: falls through to the token rule.
      {"/home/~/Inbox", cookie, "", zid(std::string(k_id))},
      {"/service/home/~/Inbox", cookie, "", zid(std::string(k_id))},
      {"/home/~/Inbox", "", "", iphash()},
      {"/home/~", "", "", iphash()},
      // Empty, malformed or unusable segments fall through.
      {"/home//Inbox", "", "", iphash()},
      {"/home/", "", "", iphash()},
      {"/home/j%zzohn/Inbox", "", "", iphash()},
      {"/home/john%4/Inbox", "", "", iphash()},
      {"/home/john%", cookie, "", zid(std::string(k_id))},
      {"/home/jo%0Ahn/Inbox", "", "", iphash()},
      {"/home/jo%00hn/Inbox", "", "", iphash()},
      {"/home/" + std::string(257, 'a') + "/x", "", "", iphash()},
      {"/home/" + std::string(256, 'a') + "/x", "", "", user(std::string(256, 'a'))},
      // Prefixes are case-sensitive and exact.
      {"/Home/john/Inbox", "", "", iphash()},
      {"/homes/john/Inbox", "", "", iphash()},
      {"/zimbra/home/john/Inbox", "", "", iphash()},
  });
}

// ---- Rules 2 and 3: ActiveSync, EWS ------------------------------------------------------

TEST_CASE("ActiveSync routes by the Basic user, DOMAIN\\user or User=", "[http]") {
  const std::string eas = "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=abc&DeviceType=iPhone";
  const std::string cookie = "ZM_AUTH_TOKEN=" + token_for(k_id);
  check_routes({
      {eas, "", basic("john@example.com:secret"), user("john@example.com")},
      {eas, "", basic("john:pa:ss"), user("john")},
      {eas, "", basic("EXAMPLE\\john:secret"), user("john@EXAMPLE")},
      {eas, "", basic("\\john:secret"), user("john")},
      {eas, "", "basic " + zmproxy::core::base64_encode("jane:x"), user("jane")},
      {eas, "", "BASIC\t" + zmproxy::core::base64_encode("jane:x"), user("jane")},
      {"/microsoft-server-activesync", "", basic("john:x"), user("john")},
      {"/Microsoft-Server-ActiveSync/foo", "", basic("john:x"), user("john")},
      // No Basic user: the User= query argument (decoded, name any case).
      {eas + "&User=jane%40example.com", "", "", user("jane@example.com")},
      {eas + "&user=jane", "", "", user("jane")},
      {eas + "&User=EXAMPLE%5Cjane", "", "", user("jane@EXAMPLE")},
      {eas + "&User=jane", "", basic(":secret"), user("jane")},
      {eas + "&User=jane", "", "Basic !!notbase64", user("jane")},
      {eas + "&User=jane", "", "Bearer x.y.z", user("jane")},
      // Nothing usable: fall through to the later rules.
      {eas, "", "", iphash()},
      {eas, cookie, "", zid(std::string(k_id))},
      {eas, cookie, basic("EXAMPLE\\:secret"), zid(std::string(k_id))},
      {eas + "&User=ja%zzne", "", "", iphash()},
      {eas + "&User=", "", "", iphash()},
      {eas, "", basic("jo\nhn:x"), iphash()},
      // Not an ActiveSync path: a Basic header means nothing.
      {"/service/soap/SearchRequest", "", basic("john:x"), iphash()},
  });
}

TEST_CASE("EWS routes like ActiveSync", "[http]") {
  check_routes({
      {"/ews/Exchange.asmx", "", basic("john@example.com:pw"), user("john@example.com")},
      {"/EWS/exchange.ASMX", "", basic("CORP\\john:pw"), user("john@CORP")},
      {"/ews/Exchange.asmx?User=jane%40example.com", "", "", user("jane@example.com")},
      {"/ews/Exchange.asmx", "", "", iphash()},
      {"/ews/Services.wsdl", "", basic("john:pw"), iphash()},
  });
}

// ---- Rule 4: DAV ------------------------------------------------------------------------

TEST_CASE("CalDAV and CardDAV paths route by the user segment", "[http]") {
  check_routes({
      {"/dav/john@example.com/Calendar/", "", "", user("john@example.com")},
      {"/dav/john%40example.com/Contacts/1.vcf", "", "", user("john@example.com")},
      {"/dav/john", "", "", user("john")},
      {"/principals/users/john@example.com/", "", "", user("john@example.com")},
      {"/principals/users/john%40example.com", "", "", user("john@example.com")},
      {"/dav//Calendar/", "", "", iphash()},
      {"/dav/", "", "", iphash()},
      {"/dav/jo%1hn/", "", "", iphash()},
      {"/principals/users/", "", "", iphash()},
      {"/principals/john/", "", "", iphash()},
      {"/DAV/john/", "", "", iphash()},
  });
}

// ---- Rules 5 and 6: tokens ----------------------------------------------------------------

TEST_CASE("the auth token cookie or zauthtoken= routes by zimbraId", "[http]") {
  const std::string good = token_for(k_id);
  const std::string other = token_for("11111111-2222-3333-4444-555555555555");
  check_routes({
      {"/", "ZM_AUTH_TOKEN=" + good, "", zid(std::string(k_id))},
      {"/", "ZM_TEST=true; ZM_AUTH_TOKEN=" + good + "; JSESSIONID=abc", "", zid(std::string(k_id))},
      {"/", "ZM_AUTH_TOKEN=\"" + good + "\"", "", zid(std::string(k_id))},
      {"/", "  ZM_AUTH_TOKEN = " + good + " ;", "", zid(std::string(k_id))},
      // The first decodable cookie wins; undecodable ones are skipped.
      {"/", "ZM_AUTH_TOKEN=garbage; ZM_AUTH_TOKEN=" + good, "", zid(std::string(k_id))},
      {"/", "ZM_AUTH_TOKEN=" + other + "; ZM_AUTH_TOKEN=" + good, "",
       zid("11111111-2222-3333-4444-555555555555")},
      // The cookie name is case-sensitive; a prefix is not the name.
      {"/", "zm_auth_token=" + good, "", iphash()},
      {"/", "XZM_AUTH_TOKEN=" + good, "", iphash()},
      {"/", "ZM_ADMIN_AUTH_TOKEN=" + good, "", iphash()},
      // zauthtoken= when no cookie decodes.
      {"/service/soap?zauthtoken=" + good, "", "", zid(std::string(k_id))},
      {"/service/soap?zauthtoken=" + good, "ZM_AUTH_TOKEN=junk", "", zid(std::string(k_id))},
      {"/service/soap?zauthtoken=" + other, "ZM_AUTH_TOKEN=" + good, "", zid(std::string(k_id))},
      {"/service/soap?zauthtoken=nope", "", "", iphash()},
      // A token without an id falls through.
      {"/", "ZM_AUTH_TOKEN=" + zm_token("exp=13:1196504658160;type=6:zimbra;"), "", iphash()},
  });
}

TEST_CASE("a Bearer JWT or zjwt= routes by its sub claim", "[http]") {
  const std::string good = jwt(R"({"sub":"cc00ce85-8c0b-49eb-8e08-a8aab43ce836","exp":1700000000})");
  const std::string other = jwt(R"({"sub":"other-id"})");
  check_routes({
      {"/service/soap", "", "Bearer " + good, zid(std::string(k_id))},
      {"/service/soap", "", "bearer   " + good + "  ", zid(std::string(k_id))},
      {"/service/soap?zjwt=" + good, "", "", zid(std::string(k_id))},
      {"/service/soap?zjwt=" + good, "", "Bearer not.a.jwt!", zid(std::string(k_id))},
      {"/service/soap?zjwt=" + other, "", "Bearer " + good, zid(std::string(k_id))},
      {"/service/soap", "", "Bearer x.y.z", iphash()},
      {"/service/soap", "", "Bearerxx " + good, iphash()},
      {"/service/soap", "", basic("john:pw"), iphash()},
      {"/service/soap?zjwt=", "", "", iphash()},
  });
}

TEST_CASE("rules apply in order, and the first match wins", "[http]") {
  const std::string cookie = "ZM_AUTH_TOKEN=" + token_for(k_id);
  const std::string bearer = "Bearer " + jwt(R"({"sub":"jwt-id"})");
  check_routes({
      // REST beats ActiveSync-style auth, tokens and JWTs.
      {"/home/john/Inbox", cookie, bearer, user("john")},
      {"/service/home/john/Inbox?zauthtoken=" + token_for("q"), cookie, bearer, user("john")},
      // ActiveSync and EWS users beat tokens.
      {"/Microsoft-Server-ActiveSync?User=jane", cookie, "", user("jane")},
      {"/ews/Exchange.asmx", cookie, basic("john:pw"), user("john")},
      // DAV beats tokens.
      {"/dav/john/Calendar/", cookie, bearer, user("john")},
      {"/principals/users/john/", cookie, bearer, user("john")},
      // The auth token beats the JWT.
      {"/service/soap", cookie, bearer, zid(std::string(k_id))},
      {"/service/soap?zjwt=" + jwt(R"({"sub":"x"})"), cookie, "", zid(std::string(k_id))},
      // The JWT beats the IP hash.
      {"/service/soap", "ZM_AUTH_TOKEN=junk", bearer, zid("jwt-id")},
      // Nothing: IP hash.
      {"/", "", "", iphash()},
      {"/zimbra/css/common.css", "ZM_TEST=true", "", iphash()},
  });
}

TEST_CASE("the admin console routes only by ZM_ADMIN_AUTH_TOKEN", "[http]") {
  RequestView r;
  r.target = "/zimbraAdmin/";
  const std::string admin_cookie = "ZM_ADMIN_AUTH_TOKEN=" + token_for("admin-id");
  r.cookie = admin_cookie;
  CHECK(extract_admin_route(r) == RouteKey{Kind::zimbra_id, "admin-id", true});
  const std::string user_cookie = "ZM_AUTH_TOKEN=" + token_for("user-id");
  r.cookie = user_cookie;
  CHECK(extract_admin_route(r) == RouteKey{});
  r.cookie = "ZM_ADMIN_AUTH_TOKEN=junk";
  CHECK(extract_admin_route(r) == RouteKey{});
  r.target = "/home/john/Inbox";
  r.cookie = "";
  CHECK(extract_admin_route(r) == RouteKey{});
}

// ---- Token decoding ------------------------------------------------------------------------

TEST_CASE("ZM_AUTH_TOKEN decoding", "[http]") {
  const std::string fields = "id=36:" + std::string(k_id) + ";exp=13:1196504658160;type=6:zimbra;";
  CHECK(parse_zm_auth_token_id(zm_token(fields)) == k_id);
  CHECK(parse_zm_auth_token_id("0_abc_" + hex(fields)) == k_id);
  CHECK(parse_zm_auth_token_id("12_ABCDEF_" + hex("id=3:abc")) == "abc");  // no trailing ';'
  std::string upper = hex(fields);
  for (char& c : upper) {
    c = (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  CHECK(parse_zm_auth_token_id("0_abc_" + upper) == k_id);
  // Values may hold ';' and '=' (length-prefixed).
  CHECK(parse_zm_auth_token_id(zm_token("x=5:a;b=c;id=2:ab;")) == "ab");
  CHECK(parse_zm_auth_token_id(zm_token("mailhost=14:127.0.0.1:7070;id=2:ab;")) == "ab");

  const std::vector<std::string> bad = {
      "",
      "nounderscores",
      "0_" + hex(fields),                   // two parts only
      "0__" + hex(fields),                  // empty hmac
      "_abc_" + hex(fields),                // empty key version
      "x_abc_" + hex(fields),               // key version not decimal
      "0_xyz_" + hex(fields),               // hmac not hex
      "0_abc_",                             // no data
      "0_abc_" + hex(fields) + "a",         // odd length
      "0_abc_" + hex(fields) + "zz",        // not hex
      "0_abc_" + hex(fields) + "_00",       // a third '_'
      zm_token("id=38:" + std::string(k_id) + ";"),     // length past the end
      zm_token("id=99999999999999999999999:x;"),        // length overflow
      zm_token("id=:abc;"),                             // no length
      zm_token("id=3abc;"),                             // no ':'
      zm_token("id=3:abcd;"),                           // value longer than its length
      zm_token("=3:abc;"),                              // empty name
      zm_token("id"),                                   // no '='
      zm_token("id=2:ab;id=2:cd;"),                     // two ids
      zm_token("id=0:;"),                               // empty id
      zm_token("id=3:a b;"),                            // space in the id
      zm_token("id=3:a\nb;"),                           // control byte
      zm_token("id=3:\xC3\xA9x;"),                      // non-ASCII
      zm_token("id=257:" + std::string(257, 'a') + ";"),  // too long
      zm_token("exp=13:1196504658160;type=6:zimbra;"),  // no id
      std::string(9000, '0'),
  };
  for (const std::string& token : bad) {
    INFO("token=" << token);
    CHECK(parse_zm_auth_token_id(token).empty());
  }
  CHECK(parse_zm_auth_token_id(zm_token("id=256:" + std::string(256, 'a') + ";")) == std::string(256, 'a'));
}

TEST_CASE("JWT subject extraction", "[http]") {
  CHECK(jwt_subject(jwt(R"({"sub":"abc"})")) == "abc"s);
  CHECK(jwt_subject(jwt(R"( { "iss" : "zimbra", "sub" : "abc" , "exp": 1.5e3 } )")) == "abc"s);
  CHECK(jwt_subject(jwt(R"({"a":[1,-2,3.25,true,false,null,{"sub":"inner"}],"sub":"abc"})")) == "abc"s);
  CHECK(jwt_subject(jwt(R"({"sub":"\u0061b\/c\\d\"e"})")) == "ab/c\\d\"e"s);
  CHECK(jwt_subject(jwt(R"({"sub":"\u00e9\ud83d\ude00"})")) == "\xC3\xA9\xF0\x9F\x98\x80"s);
  CHECK(jwt_subject(jwt(R"({"s\u0075b":"abc"})")) == "abc"s);  // escaped key
  // Padding on the payload is accepted; an empty signature too.
  const std::string padded = b64url(R"({"alg":"none"})") + "." + zmproxy::core::base64_encode(R"({"sub":"abc"})") + ".";
  REQUIRE(padded.find("==.") != std::string::npos);
  CHECK(jwt_subject(padded) == "abc"s);

  const std::vector<std::string> bad = {
      "",
      "abc",
      "a.b",
      "a.b.c.d",
      "a.b.c.d.e",  // JWE
      "." + b64url(R"({"sub":"abc"})") + ".sig",   // empty header
      "aGVhZA..sig",                             // empty payload
      "aGVhZA." + b64url(R"({"sub":"abc"})") + ".si+g",  // signature alphabet
      "aGVhZA.eyJzdWIiOiJhYmMifQ+.sig",            // payload alphabet
      jwt(R"({"sub":123})"),
      jwt(R"({"sub":null})"),
      jwt(R"({"sub":["abc"]})"),
      jwt(R"({"sub":""})"),
      jwt(R"({"sub":"a","sub":"b"})"),
      jwt(R"({"other":{"sub":"abc"}})"),
      jwt(R"({"sub":"abc"} trailing)"),
      jwt(R"({"sub":"abc"})"s + "{}"),
      jwt(R"(["sub","abc"])"),
      jwt(R"("abc")"),
      jwt(R"({"sub":"abc")"),
      jwt(R"({"sub":"abc",})"),
      jwt(R"({"sub" "abc"})"),
      jwt(R"({sub:"abc"})"),
      jwt(R"({"sub":"a\qb"})"),
      jwt(R"({"sub":"a\u12"})"),
      jwt(R"({"sub":"a\ud83d"})"),        // lone high surrogate
      jwt(R"({"sub":"a\ude00"})"),        // lone low surrogate
      jwt(R"({"sub":"a\nb"})"),           // control after unescaping
      jwt(R"({"sub":"a\u0000b"})"),
      jwt("{\"sub\":\"a\tb\"}"),          // raw control inside a string
      jwt(R"({"x":01,"sub":"abc"})"),
      jwt(R"({"x":1.,"sub":"abc"})"),
      jwt(R"({"x":tru,"sub":"abc"})"),
      jwt(R"({"x":-,"sub":"abc"})"),
      jwt("{\"sub\":\"" + std::string(257, 'a') + "\"}"),
      jwt(std::string(20, '[') + std::string(20, ']')),
      jwt(R"({"x":)" + std::string(40, '[') + std::string(40, ']') + R"(,"sub":"abc"})"),
  };
  for (const std::string& token : bad) {
    INFO("jwt=" << token);
    CHECK_FALSE(jwt_subject(token).has_value());
  }
  CHECK(jwt_subject(jwt(R"({"x":)" + std::string(10, '[') + std::string(10, ']') + R"(,"sub":"abc"})")) == "abc"s);
}

// ---- Helpers -------------------------------------------------------------------------------

TEST_CASE("request-target, query and cookie helpers", "[http]") {
  CHECK(split_target("/a/b?c=d#e").path == "/a/b");
  CHECK(split_target("/a/b?c=d#e").query == "c=d");
  CHECK(split_target("/a").query.empty());
  CHECK(split_target("http://h:80/a?q").path == "/a");
  CHECK(split_target("HTTPS://h/a?q").query == "q");
  CHECK(split_target("http://h?q").path.empty());
  CHECK(split_target("http://h?q").query == "q");
  CHECK(split_target("*").path == "*");

  CHECK(query_arg("a=1&User=x%40y&b", "User") == "x@y"s);
  CHECK(query_arg("a=1&b", "b") == ""s);
  CHECK(query_arg("user=x", "User", true) == "x"s);
  CHECK_FALSE(query_arg("user=x", "User").has_value());
  CHECK_FALSE(query_arg("", "User").has_value());
  CHECK(query_arg("U%73er=z", "User") == "z"s);
  CHECK(query_arg("User=a&User=b", "User") == "a"s);

  CHECK(cookie_values("a=1; b=2; a=3", "a") == std::vector<std::string_view>{"1", "3"});
  CHECK(cookie_values("a", "a").empty());
  CHECK(cookie_values("", "a").empty());
  CHECK(has_auth_token_cookie("x=1; ZM_AUTH_TOKEN=0_a_b"));
  CHECK_FALSE(has_auth_token_cookie("ZM_AUTH_TOKEN="));
  CHECK_FALSE(has_auth_token_cookie("ZM_ADMIN_AUTH_TOKEN=abc"));
  CHECK_FALSE(has_auth_token_cookie(""));
}

// ---- IP hash --------------------------------------------------------------------------------

TEST_CASE("ip_hash is Zimbra's hash over the address bytes", "[http]") {
  // Expected values computed independently from the formula in §7.3.
  CHECK(ip_hash("192.168.1.10", 3) == 1);   // hash 4870
  CHECK(ip_hash("10.0.0.1", 3) == 0);       // hash 1380
  CHECK(ip_hash("127.0.0.1", 3) == 2);      // hash 5009
  CHECK(ip_hash("127.0.0.1", 5) == 4);
  CHECK(ip_hash("::1", 3) == 2);            // hash 5945
  CHECK(ip_hash("2001:db8::1", 3) == 2);    // hash 2600
  CHECK(ip_hash("2001:db8::1", 5) == 0);
  CHECK(ip_hash("::ffff:10.0.0.1", 3) == 1);  // 16 bytes, as on a dual-stack socket
  // Retries rehash from the previous value (nginx's loop).
  CHECK(ip_hash("192.168.1.10", 3, 1) == 2);  // hash 2513
  CHECK(ip_hash("10.0.0.1", 3, 1) == 1);      // hash 2551
  CHECK(ip_hash("::1", 3, 1) == 0);           // hash 1692
  CHECK(ip_hash("::1", 3, 1000) == ip_hash("::1", 3, 20));

  // Spellings of one address agree; the result is stable.
  CHECK(ip_hash("[::1]", 7) == ip_hash("::1", 7));
  CHECK(ip_hash("0:0:0:0:0:0:0:1", 7) == ip_hash("::1", 7));
  CHECK(ip_hash("fe80::1%eth0", 7) == ip_hash("fe80::1", 7));
  for (int i = 0; i < 3; ++i) {
    CHECK(ip_hash("198.51.100.7", 3) == ip_hash("198.51.100.7", 3));
  }
  // Never divides by zero; one peer is always peer 0; garbage still hashes.
  CHECK(ip_hash("10.0.0.1", 0) == 0);
  CHECK(ip_hash("", 0) == 0);
  CHECK(ip_hash("10.0.0.1", 1) == 0);
  CHECK(ip_hash("not an address", 3) < 3);
  CHECK(ip_hash("not an address", 3) == ip_hash("not an address", 3));
  CHECK(ip_hash("10.0.0.1\0x"s, 3) < 3);
  CHECK(ip_hash("", 3) < 3);
}

TEST_CASE("ip_hash spreads clients over 3 peers", "[http]") {
  std::map<std::size_t, int> counts;
  for (int i = 0; i < 1024; ++i) {
    counts[ip_hash("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), 3)]++;
  }
  REQUIRE(counts.size() == 3);
  for (const auto& [peer, n] : counts) {
    INFO("peer " << peer << " got " << n);
    CHECK(peer < 3);
    CHECK(n > 300);
    CHECK(n < 384);
  }
  std::map<std::size_t, int> v6;
  for (int i = 0; i < 600; ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "2001:db8::%x:%x", i * 7919 % 65536, i);
    v6[ip_hash(buf, 3)]++;
  }
  REQUIRE(v6.size() == 3);
  for (const auto& [peer, n] : v6) {
    INFO("peer " << peer << " got " << n);
    CHECK(n > 120);
  }
}

// ---- Long poll, CR/LF ------------------------------------------------------------------------

TEST_CASE("long-poll locations", "[http]") {
  CHECK(is_long_poll("/Microsoft-Server-ActiveSync"));
  CHECK(is_long_poll("/microsoft-server-activesync?Cmd=Ping"));
  CHECK(is_long_poll("/service/soap/NoOpRequest"));
  CHECK(is_long_poll("/service/soap/WaitSetRequest?x=1"));
  CHECK(is_long_poll("/ews/Exchange.asmx"));
  CHECK(is_long_poll("/EWS/exchange.asmx"));
  CHECK_FALSE(is_long_poll("/service/soap/SearchRequest"));
  CHECK_FALSE(is_long_poll("/service/soap/noOpRequest"));
  CHECK_FALSE(is_long_poll("/service/soap"));
  CHECK_FALSE(is_long_poll("/"));
  CHECK_FALSE(is_long_poll(""));
  CHECK_FALSE(is_long_poll("/x/Microsoft-Server-ActiveSync"));
}

TEST_CASE("read timeouts by location: polling, NoOp, WaitSet, else the read timeout", "[http]") {
  CHECK(read_timeout_kind("/Microsoft-Server-ActiveSync?Cmd=Ping&User=u") == ReadTimeoutKind::polling);
  CHECK(read_timeout_kind("/microsoft-server-activesync") == ReadTimeoutKind::polling);
  CHECK(read_timeout_kind("/ews/Exchange.asmx") == ReadTimeoutKind::polling);
  CHECK(read_timeout_kind("/EWS/EXCHANGE.ASMX?x") == ReadTimeoutKind::polling);
  CHECK(read_timeout_kind("/service/soap/NoOpRequest") == ReadTimeoutKind::noop);
  CHECK(read_timeout_kind("/service/soap/NoOpRequest?wait=1") == ReadTimeoutKind::noop);
  CHECK(read_timeout_kind("/service/soap/WaitSetRequest") == ReadTimeoutKind::waitset);
  CHECK(read_timeout_kind("/service/soap/noOpRequest") == ReadTimeoutKind::read);  // nginx's ^~ is exact
  CHECK(read_timeout_kind("/service/soap/SearchRequest") == ReadTimeoutKind::read);
  CHECK(read_timeout_kind("/?x=/service/soap/NoOpRequest") == ReadTimeoutKind::read);
  CHECK(read_timeout_kind("/autodiscover/autodiscover.xml") == ReadTimeoutKind::read);
  CHECK(read_timeout_kind("") == ReadTimeoutKind::read);
}

TEST_CASE("CR/LF escapes in the raw target are caught (ZBUG-2706)", "[http]") {
  for (const char* t : {"/service/home/x%0A", "/service/home/x%0a", "/dav/%0D%0Aset x 0 0 1",
                        "/home/john/?q=%0d", "%0A", "/a\r\nb", "/a\nb"}) {
    INFO(t);
    CHECK(has_raw_crlf_escape(t));
  }
  for (const char* t : {"/service/home/x", "/home/%0B", "/home/%00", "/home/%0", "/home/%", "/home/%A0",
                        "/home/%250A", "", "/home/0A", "/home/%0G"}) {
    INFO(t);
    CHECK_FALSE(has_raw_crlf_escape(t));
  }
  CHECK(has_raw_crlf_escape("/home/%250A%0a"));
}

// ---- Mail modes -------------------------------------------------------------------------------

TEST_CASE("mail mode names and listeners", "[http]") {
  CHECK(parse_mail_mode("http") == MailMode::http);
  CHECK(parse_mail_mode("HTTPS") == MailMode::https);
  CHECK(parse_mail_mode("both") == MailMode::both);
  CHECK(parse_mail_mode("Redirect") == MailMode::redirect);
  CHECK(parse_mail_mode("mixed") == MailMode::mixed);
  CHECK_FALSE(parse_mail_mode("").has_value());
  CHECK_FALSE(parse_mail_mode("ssl").has_value());
  CHECK_FALSE(parse_mail_mode(" http").has_value());
  for (const MailMode m : {MailMode::http, MailMode::https, MailMode::both, MailMode::redirect, MailMode::mixed}) {
    CHECK(parse_mail_mode(mail_mode_name(m)) == m);
  }
  CHECK(listeners_for(MailMode::http) == Listeners{true, false});
  CHECK(listeners_for(MailMode::https) == Listeners{false, true});
  CHECK(listeners_for(MailMode::both) == Listeners{true, true});
  CHECK(listeners_for(MailMode::redirect) == Listeners{true, true});
  CHECK(listeners_for(MailMode::mixed) == Listeners{true, true});
}

TEST_CASE("http, https and both never redirect", "[http]") {
  for (const MailMode m : {MailMode::http, MailMode::https, MailMode::both}) {
    for (const bool tls : {false, true}) {
      for (const bool cookie : {false, true}) {
        for (const char* target : {"/", "/?loginOp=logout", "/h/changepass", "/?zminitmode=http"}) {
          const ModeDecision d = decide(m, tls, "mail.example.com", target, cookie, 443, 80);
          CHECK_FALSE(d.redirect);
          CHECK(d.location.empty());
          CHECK_FALSE(d.bad_host);
        }
      }
    }
  }
}

TEST_CASE("redirect mode sends every HTTP request to HTTPS", "[http]") {
  struct Case {
    std::string host;
    std::string target;
    int https_port;
    std::string location;
  };
  const std::vector<Case> cases = {
      {"mail.example.com", "/", 443, "https://mail.example.com/"},
      {"mail.example.com:80", "/zimbra/?a=b&c", 443, "https://mail.example.com/zimbra/?a=b&c"},
      {"mail.example.com:8080", "/x", 8443, "https://mail.example.com:8443/x"},
      {"Mail.Example.com", "/home/john/Inbox", 0, "https://Mail.Example.com/home/john/Inbox"},
      {"[2001:db8::1]:80", "/", 443, "https://[2001:db8::1]/"},
      {"[::1]", "/", 4443, "https://[::1]:4443/"},
      {"10.0.0.5", "/a b", 443, "https://10.0.0.5/a%20b"},
      {"h", "http://other/p?q=1", 443, "https://h/p?q=1"},
      {"h", "http://other", 443, "https://h/"},
      {"h", "*", 443, "https://h/"},
      {"h", "/\xC3\xA9", 443, "https://h/%C3%A9"},
      {"h", "/x", 70000, "https://h/x"},
  };
  for (const Case& c : cases) {
    INFO(c.host << " " << c.target);
    const ModeDecision d = decide(MailMode::redirect, false, c.host, c.target, false, c.https_port, 80);
    CHECK(d.redirect);
    CHECK(d.location == c.location);
    CHECK_FALSE(d.bad_host);
    // With a cookie it is the same.
    CHECK(decide(MailMode::redirect, false, c.host, c.target, true, c.https_port, 80).location == c.location);
    // The HTTPS side is served.
    CHECK_FALSE(decide(MailMode::redirect, true, c.host, c.target, false, c.https_port, 80).redirect);
  }
  for (const char* host : {"", "a b", "h:x", "h:99999", "::1", "[::1", "[zz]", "h/x", "h\r\nX: y", "u@h"}) {
    INFO("host=" << host);
    const ModeDecision d = decide(MailMode::redirect, false, host, "/", false, 443, 80);
    CHECK_FALSE(d.redirect);
    CHECK(d.bad_host);
    CHECK(d.location.empty());
  }
}

TEST_CASE("mixed mode: TLS for login, clear text afterwards", "[http]") {
  const auto http = [](std::string_view target, bool cookie) {
    return decide(MailMode::mixed, false, "mail.example.com", target, cookie, 443, 80);
  };
  const auto https = [](std::string_view target, bool cookie) {
    return decide(MailMode::mixed, true, "mail.example.com:443", target, cookie, 443, 80);
  };
  SECTION("HTTP side without a cookie goes to HTTPS with zminitmode=http") {
    CHECK(http("/", false).location == "https://mail.example.com/?zminitmode=http");
    CHECK(http("/zimbra/?client=advanced", false).location ==
          "https://mail.example.com/zimbra/?client=advanced&zminitmode=http");
    CHECK(http("/?", false).location == "https://mail.example.com/?zminitmode=http");
    CHECK(http("/?a=1&", false).location == "https://mail.example.com/?a=1&zminitmode=http");
    CHECK(http("/?zminitmode=http", false).location == "https://mail.example.com/?zminitmode=http");
    CHECK(decide(MailMode::mixed, false, "h:80", "/", false, 8443, 80).location ==
          "https://h:8443/?zminitmode=http");
  }
  SECTION("HTTP side with a cookie stays, except logout and changepass") {
    CHECK_FALSE(http("/", true).redirect);
    CHECK_FALSE(http("/service/soap", true).redirect);
    CHECK_FALSE(http("/?loginOp=login", true).redirect);
    CHECK_FALSE(http("/?xloginOp=logout", true).redirect);
    CHECK(http("/?loginOp=logout", true).location ==
          "https://mail.example.com/?loginOp=logout&zminitmode=http");
    CHECK(http("/h/changepass", true).location == "https://mail.example.com/h/changepass");
    CHECK(http("/h/changepass?skin=x", true).location == "https://mail.example.com/h/changepass?skin=x");
    // changepass wins over "no cookie": no zminitmode.
    CHECK(http("/h/changepass", false).location == "https://mail.example.com/h/changepass");
    CHECK_FALSE(http("/h/changepassword", true).redirect);
  }
  SECTION("HTTPS side with a cookie and zminitmode=http goes back to HTTP") {
    CHECK(https("/?zminitmode=http", true).location == "http://mail.example.com/?zminitmode=http");
    CHECK(https("/zimbra/?a=1&zminitmode=http", true).location ==
          "http://mail.example.com/zimbra/?a=1&zminitmode=http");
    CHECK(decide(MailMode::mixed, true, "h:443", "/?zminitmode=http", true, 443, 8080).location ==
          "http://h:8080/?zminitmode=http");
    CHECK_FALSE(https("/?zminitmode=http", false).redirect);
    CHECK_FALSE(https("/", true).redirect);
    CHECK_FALSE(https("/?zminitmode=https", true).redirect);
    CHECK_FALSE(https("/h/changepass?zminitmode=http", true).redirect);
    CHECK_FALSE(https("/?loginOp=logout&zminitmode=http", true).redirect);  // would loop
  }
  SECTION("a bad Host header cannot be redirected") {
    const ModeDecision d = decide(MailMode::mixed, false, "", "/", false, 443, 80);
    CHECK_FALSE(d.redirect);
    CHECK(d.bad_host);
    CHECK_FALSE(decide(MailMode::mixed, false, "", "/", true, 443, 80).bad_host);  // no redirect due
  }
}

// ---- Public URLs ---------------------------------------------------------------------------

TEST_CASE("public base URL: each branch", "[http]") {
  PublicUrlInput in;
  in.server_hostname = "mbox1.example.com";
  in.server_mail_mode = "https";
  in.server_http_port = 8080;
  in.server_https_port = 8443;
  SECTION("home server by zimbraMailMode") {
    CHECK(public_base_url(in) == "https://mbox1.example.com:8443");
    in.server_mail_mode = "http";
    CHECK(public_base_url(in) == "http://mbox1.example.com:8080");
    for (const char* mode : {"both", "mixed", "redirect", "HTTPS", "", "bogus"}) {
      in.server_mail_mode = mode;
      CHECK(public_base_url(in) == "https://mbox1.example.com:8443");
    }
    in.server_mail_mode = "http";
    in.server_http_port = 80;
    CHECK(public_base_url(in) == "http://mbox1.example.com");
    in.server_mail_mode = "https";
    in.server_https_port = 443;
    CHECK(public_base_url(in) == "https://mbox1.example.com");
    in.server_https_port = 0;
    CHECK(public_base_url(in) == "https://mbox1.example.com");
    in.server_hostname = "2001:db8::5";
    CHECK(public_base_url(in) == "https://[2001:db8::5]");
    in.server_hostname = "[2001:db8::5]";  // already bracketed: kept as it is
    CHECK(public_base_url(in) == "https://[2001:db8::5]");
    in.server_https_port = 8443;
    CHECK(public_base_url(in) == "https://[2001:db8::5]:8443");
    in.server_hostname = "2001:db8::5";
    CHECK(public_base_url(in) == "https://[2001:db8::5]:8443");
    in.server_https_port = 0;
    in.server_hostname = "";
    CHECK(public_base_url(in).empty());
  }
  SECTION("global public hostname") {
    in.global_public_hostname = "mail.example.com";
    CHECK(public_base_url(in) == "https://mail.example.com");
    in.global_public_protocol = "http";
    CHECK(public_base_url(in) == "http://mail.example.com");
    in.global_public_port = 8000;
    CHECK(public_base_url(in) == "http://mail.example.com:8000");
    in.global_public_port = 80;
    CHECK(public_base_url(in) == "http://mail.example.com");
    in.global_public_protocol = "HTTPS";
    in.global_public_port = 443;
    CHECK(public_base_url(in) == "https://mail.example.com");
    in.global_public_protocol = "ftp";  // unknown: the default
    in.global_public_port = 0;
    CHECK(public_base_url(in) == "https://mail.example.com");
  }
  SECTION("domain public hostname, with inheritance per attribute") {
    in.global_public_hostname = "mail.example.com";
    in.global_public_protocol = "http";
    in.global_public_port = 8000;
    in.domain_public_hostname = "webmail.customer.org";
    CHECK(public_base_url(in) == "http://webmail.customer.org:8000");
    in.domain_public_protocol = "https";
    CHECK(public_base_url(in) == "https://webmail.customer.org:8000");
    in.domain_public_port = 443;
    CHECK(public_base_url(in) == "https://webmail.customer.org");
    in.domain_public_port = 9443;
    CHECK(public_base_url(in) == "https://webmail.customer.org:9443");
    in.global_public_hostname = "";
    in.global_public_protocol = "";
    in.global_public_port = 0;
    in.domain_public_protocol = "";
    in.domain_public_port = 0;
    CHECK(public_base_url(in) == "https://webmail.customer.org");
    // The domain's protocol/port also apply to the global host name.
    in.domain_public_hostname = "";
    in.global_public_hostname = "mail.example.com";
    in.domain_public_protocol = "http";
    CHECK(public_base_url(in) == "http://mail.example.com");
  }
}

TEST_CASE("Location rewriting", "[http]") {
  const std::string internal = "http://mbox1.example.com:8080";
  const std::string pub = "https://mail.example.com";
  struct Case {
    std::string location;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"http://mbox1.example.com:8080/zimbra/", "https://mail.example.com/zimbra/"},
      {"http://mbox1.example.com:8080", "https://mail.example.com"},
      {"http://mbox1.example.com:8080?a=b", "https://mail.example.com?a=b"},
      {"HTTP://MBOX1.Example.COM:8080/x?y", "https://mail.example.com/x?y"},
      {"http://mbox1.example.com:80800/x", "http://mbox1.example.com:80800/x"},
      {"http://mbox1.example.com:8081/x", "http://mbox1.example.com:8081/x"},
      {"http://mbox1.example.com/x", "http://mbox1.example.com/x"},
      {"https://mbox1.example.com:8080/x", "https://mbox1.example.com:8080/x"},
      {"http://mbox1.example.com.evil:8080/x", "http://mbox1.example.com.evil:8080/x"},
      {"http://user@mbox1.example.com:8080/x", "http://user@mbox1.example.com:8080/x"},
      {"/zimbra/", "/zimbra/"},
      {"", ""},
      {"mbox1.example.com:8080/x", "mbox1.example.com:8080/x"},
  };
  for (const Case& c : cases) {
    INFO(c.location);
    CHECK(rewrite_location(c.location, internal, pub) == c.expected);
  }
  // Default ports compare equal to none; trailing slashes on the bases are ignored.
  CHECK(rewrite_location("http://mbox1:80/a", "http://mbox1", "https://pub/") == "https://pub/a");
  CHECK(rewrite_location("http://mbox1/a", "http://mbox1:80/", "https://pub") == "https://pub/a");
  CHECK(rewrite_location("https://[::1]:8443/a", "https://[::1]:8443", "https://pub") == "https://pub/a");
  // Bracketed IPv6, with and without a port (an empty port is none); a bare one is no origin.
  CHECK(rewrite_location("http://[::1]/a", "http://[::1]:80", "https://pub") == "https://pub/a");
  CHECK(rewrite_location("http://[::1]:/a", "http://[::1]", "https://pub") == "https://pub/a");
  CHECK(rewrite_location("HTTP://[2001:DB8::1]:8443/x", "http://[2001:db8::1]:8443", "https://pub") ==
        "https://pub/x");
  CHECK(rewrite_location("http://[::1]:8080/a", "http://[::1]", "https://pub") == "http://[::1]:8080/a");
  CHECK(rewrite_location("http://::1/a", "http://[::1]", "https://pub") == "http://::1/a");
  CHECK(rewrite_location("http://[::1/a", "http://[::1]", "https://pub") == "http://[::1/a");
  CHECK(rewrite_location("http://mbox1:/a", "http://mbox1", "https://pub") == "https://pub/a");
  // An unusable base changes nothing.
  CHECK(rewrite_location("http://mbox1/a", "http://mbox1/path", "https://pub") == "http://mbox1/a");
  CHECK(rewrite_location("http://mbox1/a", "", "https://pub") == "http://mbox1/a");
  CHECK(rewrite_location("http://mbox1/a", "http://mbox1", "") == "http://mbox1/a");
  // The "stray redirect" fix of §7.2.
  CHECK(rewrite_location("http://mail.example.com/zimbra/", "http://mail.example.com",
                         "https://mail.example.com") == "https://mail.example.com/zimbra/");
}

// ---- Strict server names -------------------------------------------------------------------

TEST_CASE("strict server names", "[http]") {
  const std::vector<std::string> names = {"proxy.example.com", "Mail.Customer.ORG", "192.0.2.10", "2001:db8::1",
                                          "[2001:db8::2]", "", "dotted.example.net."};
  CHECK(host_allowed("anything at all", names, false));
  CHECK(host_allowed("", {}, false));
  for (const char* host : {"proxy.example.com", "PROXY.example.com", "proxy.example.com:443",
                           "proxy.example.com.", "proxy.example.com.:8443", " mail.customer.org ",
                           "192.0.2.10", "192.0.2.10:80", "[2001:db8::1]", "[2001:DB8:0::1]:443",
                           "[2001:db8::2]", "dotted.example.net", "dotted.example.net."}) {
    INFO(host);
    CHECK(host_allowed(host, names, true));
  }
  for (const char* host : {"", "other.example.com", "example.com", "proxy.example.com:", "proxy.example.com:x",
                           "proxy.example.com:99999", "2001:db8::1", "[2001:db8::3]", "[2001:db8::1",
                           "192.0.2.1", "proxy.example.com/x", "proxy.example.com..", "user@proxy.example.com"}) {
    INFO(host);
    // "proxy.example.com:" is "no port": allowed (RFC 3986 permits an empty port).
    CHECK(host_allowed(host, names, true) == (std::string_view(host) == "proxy.example.com:"));
  }
  CHECK_FALSE(host_allowed("proxy.example.com", {}, true));

  CHECK(host_allowed("[2001:db8::1]:", names, true));  // an empty port after brackets too
  CHECK_FALSE(host_allowed("[fe80::1%eth0]", {"fe80::1"}, true));  // no zone in a Host
}

TEST_CASE("Host header split into host and port", "[http]") {
  const std::optional<HostHeader> h = split_host_header("[::1]:8443");
  REQUIRE(h);
  CHECK(h->address == zmproxy::core::Address{"::1", 8443});
  CHECK(h->has_port);
  CHECK(h->ipv6);
  const std::optional<HostHeader> bare = split_host_header("[2001:DB8::1]");  // bracketed, no port
  REQUIRE(bare);
  CHECK(bare->address.host == "2001:DB8::1");
  CHECK_FALSE(bare->has_port);
  CHECK(bare->ipv6);
  CHECK_FALSE(split_host_header("a.b")->has_port);
  CHECK(split_host_header("a.b:80")->address == zmproxy::core::Address{"a.b", 80});
  CHECK(split_host_header("a.b:0")->has_port);  // port 0 is a port
  CHECK_FALSE(split_host_header("a.b:")->has_port);
  CHECK_FALSE(split_host_header("[::1]:")->has_port);
  CHECK_FALSE(split_host_header("192.0.2.1")->ipv6);
  for (const char* bad : {"", ":", ":80", "[::1]x", "a:b:c", "::1", "2001:db8::1:80", "[::1", "[]", "[a.b]",
                          "[::1]:65536", "a.b::", "a b", "[fe80::1%eth0]:80"}) {
    INFO(bad);
    CHECK_FALSE(split_host_header(bad).has_value());
  }
}

// ---- Garbage in, no crash --------------------------------------------------------------------

TEST_CASE("random garbage never crashes the HTTP helpers", "[http]") {
  std::mt19937 rng(20240611);
  const std::vector<std::string> prefixes = {
      "", "/", "/home/", "/home/~", "/service/home/", "/Microsoft-Server-ActiveSync?", "/ews/Exchange.asmx?User=",
      "/dav/", "/principals/users/", "/?zauthtoken=0_ab_", "/?zjwt=", "http://", "%", "~"};
  const std::vector<std::string> header_prefixes = {"", "ZM_AUTH_TOKEN=0_a_", "ZM_AUTH_TOKEN=", "Basic ",
                                                    "Bearer ", "Bearer eyJ", "a=b; "};
  const std::string alphabet = "abcAZ09%_~/?&=;:.\\\"{}[],+-@ \t\r\n\x00\x7f\x80\xff"s;
  const auto random_string = [&](std::size_t max_len, bool bytes) {
    std::string s;
    const std::size_t n = std::uniform_int_distribution<std::size_t>(0, max_len)(rng);
    for (std::size_t i = 0; i < n; ++i) {
      if (bytes) {
        s.push_back(static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng)));
      } else {
        s.push_back(alphabet[std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng)]);
      }
    }
    return s;
  };
  const auto pick = [&](const std::vector<std::string>& v) {
    return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
  };
  for (int i = 0; i < 600; ++i) {
    const bool bytes = i % 3 == 0;
    const std::string target = pick(prefixes) + random_string(80, bytes);
    const std::string host = random_string(20, bytes);
    const std::string cookie = pick(header_prefixes) + random_string(120, bytes);
    const std::string authorization = pick(header_prefixes) + random_string(120, bytes);
    RequestView r{"GET", target, host, cookie, authorization, "ua"};
    for (const RouteKey& k : {extract_route(r), extract_admin_route(r)}) {
      if (k.kind == Kind::ip_hash) {
        CHECK(k.value.empty());
      } else {
        CHECK_FALSE(k.value.empty());
        CHECK(k.value.size() <= k_max_route_name);
        for (const char c : k.value) {
          CHECK(static_cast<unsigned char>(c) >= 0x20);
          CHECK(c != 0x7f);
        }
      }
    }
    CHECK(ip_hash(host, 3) < 3);
    (void)is_long_poll(target);
    (void)has_raw_crlf_escape(target);
    (void)parse_zm_auth_token_id(cookie);
    (void)jwt_subject(authorization);
    (void)host_allowed(host, {"a", "[::1]"}, true);
    for (const MailMode m : {MailMode::redirect, MailMode::mixed}) {
      for (const bool tls : {false, true}) {
        const ModeDecision d = decide(m, tls, host, target, i % 2 == 0, 443, 80);
        for (const char c : d.location) {
          CHECK(static_cast<unsigned char>(c) > 0x20);
          CHECK(static_cast<unsigned char>(c) < 0x7f);
        }
      }
    }
    (void)rewrite_location(target, "http://" + host, "https://pub");
  }
}

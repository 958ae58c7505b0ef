#include "lib/ctl/throttle_rows.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy;
using namespace zmproxy::ctl;
using throttle::KeyKind;
using throttle::MailProtocol;
using throttle::ParsedKey;
using namespace std::chrono_literals;

namespace {

throttle::ThrottleSettings settings() {
  throttle::ThrottleSettings s;
  s.ip.limit = 5;
  s.pop3.limit = 8;
  s.user_limit = 10;
  s.count_failed_logins = true;
  s.tarpit.free_failures = 3;
  s.tarpit.first_delay = 1000ms;
  s.tarpit.max_delay = 30000ms;
  s.failed_lock_after = 20;
  return s;
}

ThrottleRow row(std::string key, std::uint64_t count, std::int64_t expires_in = 60) {
  ThrottleRow r;
  auto parsed = throttle::parse_throttle_key(key);
  REQUIRE(parsed);
  r.parsed = *parsed;
  r.key = std::move(key);
  r.server = "127.0.0.1:11211";
  r.count = count;
  r.expires_in = expires_in;
  judge(r, settings());
  return r;
}

}  // namespace

TEST_CASE("counts are decimal values, padded or not", "[ctl][throttle]") {
  CHECK(parse_count("6") == 6u);
  CHECK(parse_count("12  ") == 12u);
  CHECK(parse_count("18446744073709551615") == 18446744073709551615u);
  CHECK_FALSE(parse_count(""));
  CHECK_FALSE(parse_count(" 1"));
  CHECK_FALSE(parse_count("1x"));
  CHECK_FALSE(parse_count("-1"));
  CHECK_FALSE(parse_count("18446744073709551616"));
}

TEST_CASE("a row is judged against the proxy's limits", "[ctl][throttle]") {
  SECTION("an address is blocked once its count reaches the protocol's limit") {
    CHECK(row("throttle:proto=i,ip=192.0.2.7", 4).state == RowState::none);
    CHECK(row("throttle:proto=i,ip=192.0.2.7", 5).state == RowState::blocked);
    CHECK(row("throttle:proto=i,ip=192.0.2.7", 5).limit == 5);
    // POP3 has a limit of its own.
    CHECK(row("throttle:proto=p,ip=192.0.2.7", 6).state == RowState::none);
    CHECK(row("throttle:proto=p,ip=192.0.2.7", 6).limit == 8);
  }
  SECTION("a user is blocked once the count reaches the user limit") {
    CHECK(row("throttle:user=alice@example.com", 9).state == RowState::none);
    CHECK(row("throttle:user=alice@example.com", 10).state == RowState::blocked);
  }
  SECTION("a failed-login pair: free, then the tarpit, then locked") {
    CHECK(row("zmproxy:authfail:user=a,ip=192.0.2.7", 2).state == RowState::none);
    // Its 7th failure would wait 1 s doubled three times.
    const ThrottleRow tarpit = row("zmproxy:authfail:user=a,ip=192.0.2.7", 6);
    CHECK(tarpit.state == RowState::tarpit);
    CHECK(tarpit.delay == 8000ms);
    CHECK(state_text(tarpit) == "tarpit 8s");
    CHECK(row("zmproxy:authfail:user=a,ip=192.0.2.7", 20).state == RowState::locked);
    CHECK(row("zmproxy:authfail:user=a,ip=192.0.2.7", 20).limit == 20);
  }
  SECTION("no limit configured: never blocked") {
    ThrottleRow r = row("throttle:proto=i,ip=192.0.2.7", 500);
    judge(r, throttle::ThrottleSettings{});
    CHECK(r.state == RowState::none);
    CHECK(r.limit == 0);
    CHECK(state_text(r) == "-");
  }
  SECTION("whitelist verdicts") {
    CHECK(row("whitelist:ip=192.0.2.7", 1).state == RowState::whitelisted);
    CHECK(row("whitelist:ip=192.0.2.7", 0).state == RowState::none);
  }
}

TEST_CASE("rows sort blocked first, then tarpits, then by count", "[ctl][throttle]") {
  std::vector<ThrottleRow> rows = {
      row("throttle:user=bob", 3), row("zmproxy:authfail:user=a,ip=192.0.2.7", 6),
      row("throttle:proto=i,ip=192.0.2.8", 7), row("throttle:user=carol", 9),
      row("zmproxy:authfail:user=b,ip=192.0.2.7", 21)};
  sort_rows(rows);
  CHECK(who(rows[0].parsed) == "b from 192.0.2.7");
  CHECK(who(rows[1].parsed) == "192.0.2.8");
  CHECK(who(rows[2].parsed) == "a from 192.0.2.7");
  CHECK(who(rows[3].parsed) == "carol");
  CHECK(who(rows[4].parsed) == "bob");
}

TEST_CASE("the table is aligned, one line per row", "[ctl][throttle]") {
  std::vector<ThrottleRow> rows = {
      row("throttle:proto=i,ip=192.0.2.7", 6, 54),
      row("zmproxy:authfail:user=alice@example.com,ip=2001:db8::7", 12, -1)};
  rows[1].expires_in.reset();
  CHECK(rows_text(rows) ==
        "KIND           WHO                                 COUNT  LIMIT  EXPIRES  STATE       "
        "SERVER\n"
        "ip/imap        192.0.2.7                               6      5      54s  blocked     "
        "127.0.0.1:11211\n"
        "failed-logins  alice@example.com from 2001:db8::7     12     20        ?  tarpit 30s  "
        "127.0.0.1:11211\n");
  rows[0].expires_in = -1;
  CHECK(rows_text(rows).find("never") != std::string::npos);
}

TEST_CASE("the JSON has stable field names", "[ctl][throttle]") {
  std::vector<ThrottleRow> rows = {
      row("zmproxy:authfail:user=alice@example.com,ip=192.0.2.7", 6, 880)};
  CHECK(rows_json(rows) ==
        "[{\"kind\":\"failed-logins\",\"address\":\"192.0.2.7\",\"user\":\"alice@example.com\","
        "\"count\":6,"
        "\"limit\":20,\"expires_in\":880,\"state\":\"tarpit\",\"delay_ms\":8000,\"server\":\"127.0."
        "0.1:11211\","
        "\"key\":\"zmproxy:authfail:user=alice@example.com,ip=192.0.2.7\"}]\n");
  rows[0] = row("throttle:proto=i,ip=192.0.2.7", 1);
  rows[0].count.reset();
  rows[0].expires_in.reset();
  judge(rows[0], settings());
  CHECK(rows_json(rows).find(
            "\"user\":null,\"count\":null,\"limit\":5,\"expires_in\":null,\"state\":\"none\"") !=
        std::string::npos);
  CHECK(rows_json({}) == "[]\n");
}

TEST_CASE("names an attacker chose cannot steer a terminal or break the JSON", "[ctl][throttle]") {
  CHECK(printable("alice@example.com") == "alice@example.com");
  CHECK(printable("jos\xc3\xa9") == "jos\xc3\xa9");
  CHECK(printable("a\x1b[31mb\r\n") == "a%1B[31mb%0D%0A");
  CHECK(printable("a\x7f") == "a%7F");
  CHECK(printable("\xc2\x9b"
                  "31m") == "%C2%9B31m");           // C1 CSI
  CHECK(printable("\xff\xc3") == "%FF%C3");         // not UTF-8
  CHECK(printable("\xe0\x80\xaf") == "%E0%80%AF");  // overlong
  ThrottleRow r = row("throttle:user=a%1B%5D0;x%07", 1);
  CHECK(rows_text({r}).find('\x1b') == std::string::npos);
  CHECK(rows_json({r}).find("\"user\":\"a%1B]0;x%07\"") != std::string::npos);
}

TEST_CASE("show and clear name an address, a block or a user", "[ctl][throttle]") {
  const auto key = [](const char* k) { return *throttle::parse_throttle_key(k); };
  SECTION("an address, written as zmproxyd writes it") {
    const auto t = parse_target("2001:DB8:0:0::7");
    REQUIRE(t);
    CHECK(t->address == "2001:db8::7");
    CHECK(matches(*t, key("throttle:proto=i,ip=2001:db8::7")));
    CHECK(matches(*t, key("zmproxy:authfail:user=a,ip=2001:db8::7")));
    CHECK(matches(*t, key("whitelist:ip=2001:db8::7")));
    CHECK_FALSE(matches(*t, key("throttle:proto=i,ip=2001:db8::8")));
    CHECK_FALSE(matches(*t, key("throttle:user=2001:db8::7")));
    const auto direct = direct_keys(*t);
    REQUIRE(direct.size() == 3);
    CHECK(direct[0].first == "throttle:proto=i,ip=2001:db8::7");
    CHECK(direct[1].first == "throttle:proto=p,ip=2001:db8::7");
    CHECK(direct[2].first == "whitelist:ip=2001:db8::7");
  }
  SECTION("an IPv4 address also finds its IPv4-mapped form") {
    const auto t = parse_target("192.0.2.7");
    REQUIRE(t);
    CHECK(matches(*t, key("throttle:proto=i,ip=192.0.2.7")));
    CHECK(matches(*t, key("throttle:proto=i,ip=::ffff:192.0.2.7")));
    CHECK_FALSE(matches(*t, key("throttle:proto=i,ip=192.0.2.70")));
  }
  SECTION("a CIDR block") {
    const auto t = parse_target("192.0.2.0/24");
    REQUIRE(t);
    CHECK(t->address.empty());
    CHECK(matches(*t, key("throttle:proto=p,ip=192.0.2.200")));
    CHECK_FALSE(matches(*t, key("throttle:proto=p,ip=192.0.3.1")));
    CHECK_FALSE(matches(*t, key("throttle:proto=p,ip=2001:db8::1")));
    CHECK(direct_keys(*t).empty());
  }
  SECTION("a user, lower-cased as zmproxyd builds keys") {
    const auto t = parse_target("Alice@Example.COM");
    REQUIRE(t);
    CHECK(t->user == "alice@example.com");
    CHECK(matches(*t, key("throttle:user=alice@example.com")));
    CHECK(matches(*t, key("throttle:user=ALICE@example.com")));
    CHECK(matches(*t, key("zmproxy:authfail:user=alice@example.com,ip=192.0.2.7")));
    CHECK_FALSE(matches(*t, key("throttle:user=alice@example.org")));
    CHECK_FALSE(matches(*t, key("throttle:proto=i,ip=192.0.2.7")));
    const auto direct = direct_keys(*t);
    REQUIRE(direct.size() == 1);
    CHECK(direct[0].first == "throttle:user=alice@example.com");
  }
  SECTION("a user whose key is too long to read back is asked for by its MD5 key") {
    const std::string user(300, 'a');
    const auto t = parse_target(user);
    REQUIRE(t);
    const auto direct = direct_keys(*t);
    REQUIRE(direct.size() == 1);
    CHECK(direct[0].first.size() == 32);
    CHECK(direct[0].second.user == user);
  }
  CHECK_FALSE(parse_target(""));
  CHECK_FALSE(parse_target("  "));
}

TEST_CASE("clear says what it removed, one line each", "[ctl][throttle]") {
  CHECK(removed_line(row("throttle:proto=i,ip=192.0.2.7", 6)) ==
        "removed ip/imap 192.0.2.7 (count 6) on 127.0.0.1:11211");
}

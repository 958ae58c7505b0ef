#include "lib/route/local_route_cache.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace zmproxy::route;
using Clock = LocalRouteCache::Clock;

namespace {

Route route_to(std::string host, std::string user = "") {
  Route r;
  r.host = std::move(host);
  r.port = 7143;
  r.user = std::move(user);
  return r;
}

RouteQuery query(std::string user, std::string host = "", std::string protocol = "imap") {
  RouteQuery q;
  q.user = std::move(user);
  q.proxy_host = std::move(host);
  q.protocol = std::move(protocol);
  q.proxy_ip = "10.0.0.1";
  return q;
}

}  // namespace

TEST_CASE("local route keys are normalised: case, Host port, trailing dot", "[route]") {
  const std::string k = local_route_key(query("john@example.com", "mail.example.com", "http"));
  CHECK(local_route_key(query("JOHN@Example.COM", "MAIL.example.com:443", "HTTP")) == k);
  CHECK(local_route_key(query("john@example.com", "mail.example.com.", "http")) == k);
  CHECK(local_route_key(query("john@example.com", " mail.example.com:8080 ", "http")) == k);
  CHECK(local_route_key(query("john@example.com", "other.example.com", "http")) != k);
  CHECK(local_route_key(query("john@example.com", "mail.example.com", "https")) != k);
  CHECK(normalise_host("[2001:DB8::1]:443") == "2001:db8::1");
  CHECK(normalise_host("2001:db8::1") == "2001:db8::1");  // a bare v6 address keeps its colons
  CHECK(normalise_host("10.0.0.1:80") == "10.0.0.1");
  RouteQuery by_id = query("ABC-123");
  by_id.by_id = true;
  CHECK(local_route_key(by_id) != local_route_key(query("abc-123")));
}

TEST_CASE("the local cache is bounded and evicts the least recently used entry", "[route]") {
  LocalRouteCache cache(3, std::chrono::seconds(60));
  const auto now = Clock::now();
  cache.put("a", "a@x", route_to("10.0.0.1"), now);
  cache.put("b", "b@x", route_to("10.0.0.2"), now);
  cache.put("c", "c@x", route_to("10.0.0.3"), now);
  REQUIRE(cache.get("a", now));  // a is now the most recently used; b the least
  cache.put("d", "d@x", route_to("10.0.0.4"), now);
  CHECK(cache.size() == 3);
  CHECK(cache.evictions() == 1);
  CHECK_FALSE(cache.get("b", now));
  CHECK(cache.get("a", now)->host == "10.0.0.1");
  CHECK(cache.get("c", now));
  CHECK(cache.get("d", now));
  for (int i = 0; i < 1000; ++i) {
    cache.put("k" + std::to_string(i), "u" + std::to_string(i), route_to("10.0.0.9"), now);
  }
  CHECK(cache.size() == 3);  // never more, whatever arrives
  CHECK(cache.evictions() == 1001);
}

TEST_CASE("a put on an existing key replaces it without growing", "[route]") {
  LocalRouteCache cache(2, std::chrono::seconds(60));
  const auto now = Clock::now();
  cache.put("a", "a@x", route_to("10.0.0.1"), now);
  cache.put("a", "a@x", route_to("10.0.0.2"), now);
  CHECK(cache.size() == 1);
  CHECK(cache.get("a", now)->host == "10.0.0.2");
  CHECK(cache.evictions() == 0);
}

TEST_CASE("local entries expire after the TTL", "[route]") {
  LocalRouteCache cache(10, std::chrono::seconds(60));
  const auto now = Clock::now();
  cache.put("a", "a@x", route_to("10.0.0.1"), now);
  CHECK(cache.get("a", now + std::chrono::seconds(59)));
  CHECK_FALSE(cache.get("a", now + std::chrono::seconds(60)));
  CHECK(cache.size() == 0);
}

TEST_CASE("invalidate forgets a user's entries by login and by account name only", "[route]") {
  LocalRouteCache cache(100, std::chrono::seconds(60));
  const auto now = Clock::now();
  cache.put("imap-alias", "Alias@Example.com", route_to("10.0.0.1", "john@example.com"), now);
  cache.put("pop3-john", "john@example.com", route_to("10.0.0.1", "john@example.com"), now);
  cache.put("imap-bare", "john", route_to("10.0.0.1", "john@example.com"), now);
  cache.put("imap-mary", "mary@example.com", route_to("10.0.0.2", "mary@example.com"), now);
  SECTION("by the account name: every login that led to it") {
    CHECK(cache.invalidate("JOHN@example.com") == 3);
    CHECK(cache.size() == 1);
    CHECK(cache.get("imap-mary", now));
  }
  SECTION("by an alias: that login's entries") {
    CHECK(cache.invalidate("alias@example.com") == 1);
    CHECK_FALSE(cache.get("imap-alias", now));
    CHECK(cache.get("pop3-john", now));
  }
  SECTION("an unknown user: nothing") {
    CHECK(cache.invalidate("nobody@example.com") == 0);
    CHECK(cache.size() == 4);
  }
  SECTION("evicted entries leave the index") {
    LocalRouteCache small(1, std::chrono::seconds(60));
    small.put("one", "john@example.com", route_to("10.0.0.1"), now);
    small.put("two", "mary@example.com", route_to("10.0.0.2"), now);
    CHECK(small.invalidate("john@example.com") == 0);
    CHECK(small.invalidate("mary@example.com") == 1);
    CHECK(small.size() == 0);
  }
}

TEST_CASE("a cache of capacity 0 or TTL 0 is off", "[route]") {
  const auto now = Clock::now();
  LocalRouteCache none(0, std::chrono::seconds(60));
  none.put("a", "a", route_to("10.0.0.1"), now);
  CHECK_FALSE(none.get("a", now));
  LocalRouteCache no_ttl(10, std::chrono::seconds(0));
  no_ttl.put("a", "a", route_to("10.0.0.1"), now);
  CHECK_FALSE(no_ttl.get("a", now));
}

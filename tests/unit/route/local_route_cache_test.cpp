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

TEST_CASE("forget drops a user's entries and keeps none of theirs for the quiet time", "[route]") {
  LocalRouteCache cache(100, std::chrono::seconds(60));
  const auto now = Clock::now();
  const auto quiet_until = now + std::chrono::seconds(60);
  cache.put("imap-alias", "alias@example.com", route_to("10.0.0.1", "john@example.com"), now);
  cache.put("imap-mary", "mary@example.com", route_to("10.0.0.2", "mary@example.com"), now);
  CHECK(cache.forget("John@Example.com", quiet_until, now) == 1);
  CHECK_FALSE(cache.get("imap-alias", now));
  // A route read meanwhile (memcached not purged yet) is not kept, under
  // either of the user's names...
  cache.put("imap-alias", "alias@example.com", route_to("10.0.0.1", "john@example.com"), now);
  cache.put("pop3-john", "JOHN@example.com", route_to("10.0.0.1", "john@example.com"), now);
  CHECK(cache.size() == 1);
  // ...while others' are, and after the quiet time the user's are again.
  cache.put("imap-bob", "bob@example.com", route_to("10.0.0.2", "bob@example.com"), now);
  CHECK(cache.get("imap-bob", now));
  cache.put("pop3-john", "john@example.com", route_to("10.0.0.9", "john@example.com"), quiet_until);
  CHECK(cache.get("pop3-john", quiet_until));
}

TEST_CASE("forget_all drops everything and everyone is quiet for the time", "[route]") {
  LocalRouteCache cache(100, std::chrono::seconds(60));
  const auto now = Clock::now();
  cache.put("a", "a@x", route_to("10.0.0.1"), now);
  cache.put("b", "b@x", route_to("10.0.0.1"), now);
  CHECK(cache.forget_all(now + std::chrono::seconds(5)) == 2);
  CHECK(cache.size() == 0);
  CHECK(cache.invalidate("a@x") == 0);  // the name index went too
  cache.put("a", "a@x", route_to("10.0.0.1"), now + std::chrono::seconds(4));
  CHECK(cache.size() == 0);
  cache.put("a", "a@x", route_to("10.0.0.1"), now + std::chrono::seconds(5));
  CHECK(cache.get("a", now + std::chrono::seconds(5)));
}

TEST_CASE("forget keeps at most k_max_quiet names quiet and then everyone", "[route]") {
  LocalRouteCache cache(100, std::chrono::seconds(60));
  const auto now = Clock::now();
  const auto until = now + std::chrono::seconds(60);
  for (std::size_t i = 0; i < LocalRouteCache::k_max_quiet; ++i) {
    cache.forget("user" + std::to_string(i), until, now);
  }
  cache.put("x", "someone@else", route_to("10.0.0.1"), now);
  CHECK(cache.size() == 1);  // not one of the quiet names
  cache.forget("one-too-many", until, now);
  cache.put("y", "other@else", route_to("10.0.0.1"), now);
  CHECK_FALSE(cache.get("y", now));  // everyone is quiet now
  // Expired quiet names are swept to make room.
  cache.forget("later", now + std::chrono::seconds(200), until);
  cache.put("z", "third@else", route_to("10.0.0.1"), until);
  CHECK(cache.get("z", until));
}

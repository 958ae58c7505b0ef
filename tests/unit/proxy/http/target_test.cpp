#include "lib/proxy/http/target.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

using namespace zmproxy::proxy::http;

TEST_CASE("an upstream entry becomes a target, port 80 by default", "[http][target]") {
  const Target named = peer_target("mbox1.example.com:8080");
  CHECK(named.host == "mbox1.example.com");
  CHECK(named.port == 8080);
  CHECK(named.from_ip_hash);
  CHECK(named.domain.empty());
  CHECK(peer_target("mbox1.example.com").port == 80);
  // Bracketed IPv6, with and without a port: the brackets are not part of the host.
  CHECK(peer_target("[::1]:8080").host == "::1");
  CHECK(peer_target("[::1]:8080").port == 8080);
  CHECK(peer_target("[2001:db8::7]").host == "2001:db8::7");
  CHECK(peer_target("[2001:db8::7]").port == 80);
  CHECK(peer_target("[::1]:8080").address() == "[::1]:8080");
  CHECK(peer_target("127.0.0.1:7070").address() == "127.0.0.1:7070");
}

TEST_CASE("IP hash tries every peer once, the hashed one first", "[http][target]") {
  const std::vector<std::string> peers = {"a:1", "b:2", "c:3", "d:4", "e:5"};
  for (const char* client : {"192.0.2.1", "192.0.2.77", "2001:db8::1", "::1", "not an address"}) {
    INFO(client);
    const std::vector<Target> targets = ip_hash_targets(peers, client);
    REQUIRE(targets.size() == peers.size());
    CHECK(targets.front().address() == peers[ip_hash(client, peers.size())]);
    std::set<std::string> seen;
    for (const Target& t : targets) {
      CHECK(t.from_ip_hash);
      seen.insert(t.address());
    }
    CHECK(seen.size() == peers.size());
    CHECK(ip_hash_targets(peers, client) == targets);  // stable for a client
  }
  // More peers than the bits of one word (the vector path): each once.
  for (const std::size_t count : {std::size_t{64}, std::size_t{65}, std::size_t{130}}) {
    std::vector<std::string> many;
    for (std::size_t i = 0; i < count; ++i) {
      many.push_back(fmt::format("10.0.{}.{}:8080", i / 200, i % 200 + 1));
    }
    const std::vector<Target> all = ip_hash_targets(many, "192.0.2.1");
    REQUIRE(all.size() == count);
    CHECK(all.front().address() == many[ip_hash("192.0.2.1", count)]);
    std::set<std::string> seen;
    for (const Target& t : all) {
      seen.insert(t.address());
    }
    CHECK(seen.size() == count);
  }
  CHECK(ip_hash_targets({}, "192.0.2.1").empty());
  const std::vector<Target> one = ip_hash_targets({"[::1]:8080"}, "192.0.2.1");
  REQUIRE(one.size() == 1);
  CHECK(one[0].address() == "[::1]:8080");
}

TEST_CASE("the route query of a request key", "[http][target]") {
  const RouteKey user{RouteKey::Kind::user, "joe@Example.COM", false};
  const auto q = route_query(user, false, false, "192.0.2.9", "10.0.0.1", "mail.example.com");
  CHECK(q.user == "joe@Example.COM");
  CHECK_FALSE(q.by_id);
  CHECK_FALSE(q.admin);
  CHECK(q.protocol == "http");
  CHECK(q.client_ip == "192.0.2.9");
  CHECK(q.proxy_ip == "10.0.0.1");
  CHECK(q.proxy_host == "mail.example.com");
  CHECK(q.login_attempt == 0);
  CHECK(route_query(user, true, false, "", "", "").protocol == "httpssl");
  const RouteKey admin{RouteKey::Kind::zimbra_id, "cc00ce85", true};
  const auto aq = route_query(admin, false, true, "", "", "");
  CHECK(aq.by_id);
  CHECK(aq.admin);
  CHECK(aq.protocol == "httpssl");  // the admin console is always https on the mailbox
}

TEST_CASE("a routed target carries the user's domain", "[http][target]") {
  zmproxy::route::Route found;
  found.host = "::1";
  found.port = 8080;
  const Target t = routed_target(found, RouteKey{RouteKey::Kind::user, "joe@Example.COM", false});
  CHECK(t.address() == "[::1]:8080");
  CHECK_FALSE(t.from_ip_hash);
  CHECK(t.domain == "example.com");
  CHECK(routed_target(found, RouteKey{RouteKey::Kind::user, "joe", false}).domain.empty());
  CHECK(routed_target(found, RouteKey{RouteKey::Kind::zimbra_id, "id@x", false}).domain.empty());
}

TEST_CASE("pool keys and internal base URLs", "[http][target]") {
  const Target t = peer_target("[::1]:8443");
  CHECK(upstream_pool_key(nullptr, t) == "p:[::1]:8443");
  int context = 0;
  const std::string tls_key = upstream_pool_key(&context, t);
  CHECK(tls_key.starts_with("s0x"));
  CHECK(tls_key.ends_with(":[::1]:8443"));
  int other = 0;
  CHECK(upstream_pool_key(&other, t) != tls_key);  // a new client context, a new pool
  CHECK(internal_base(true, t) == "https://[::1]:8443");
  CHECK(internal_base(false, peer_target("mbox1:8080")) == "http://mbox1:8080");
}

TEST_CASE("the public base: the domain's service, the global one, else the client's own", "[http][target]") {
  zmproxy::config::HttpSection h;
  Target t = peer_target("mbox1:8080");
  CHECK(public_base(h, false, "mail.example.com", t) == "http://mail.example.com");
  CHECK(public_base(h, true, "[::1]:8443", t) == "https://[::1]:8443");
  h.public_hostname = "webmail.example.com";
  CHECK(public_base(h, false, "mail.example.com", t) == "https://webmail.example.com");
  h.domain_public_services = {"customer.org portal.customer.org http 8000", "other.org x.other.org"};
  CHECK(public_base(h, false, "mail.example.com", t) == "https://webmail.example.com");  // no domain
  t.domain = "customer.org";
  CHECK(public_base(h, false, "mail.example.com", t) == "http://portal.customer.org:8000");
  t.domain = "CUSTOMER.ORG";
  CHECK(public_base(h, false, "mail.example.com", t) == "http://portal.customer.org:8000");
  t.domain = "other.org";
  CHECK(public_base(h, false, "mail.example.com", t) == "https://x.other.org");
  h.public_hostname.clear();
  t.domain = "unknown.org";
  CHECK(public_base(h, true, "mail.example.com", t) == "https://mail.example.com");
}

TEST_CASE("the upstream read timeout follows the location", "[http][target]") {
  zmproxy::config::HttpSection h;
  h.read_timeout = std::chrono::seconds(60);
  h.poll_timeout = std::chrono::hours(1);
  h.noop_timeout = std::chrono::seconds(1220);
  h.waitset_timeout = std::chrono::seconds(620);
  CHECK(upstream_read_timeout(h, "/service/soap/SearchRequest") == std::chrono::seconds(60));
  CHECK(upstream_read_timeout(h, "/Microsoft-Server-ActiveSync?Cmd=Ping") == std::chrono::hours(1));
  CHECK(upstream_read_timeout(h, "/ews/Exchange.asmx") == std::chrono::hours(1));
  CHECK(upstream_read_timeout(h, "/service/soap/NoOpRequest") == std::chrono::seconds(1220));
  CHECK(upstream_read_timeout(h, "/service/soap/WaitSetRequest?x=1") == std::chrono::seconds(620));
}

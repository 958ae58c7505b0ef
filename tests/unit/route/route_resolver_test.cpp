#include "lib/route/route_resolver.hpp"

#include "lib/route/route_resolver_asio.hpp"

#include "tests/support/memcached_process.hpp"
#include "tests/unit/route/fake_handler.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace zmproxy;
using namespace zmproxy::route;
namespace asio = net::asio;

namespace {

// A resolver without memcached over one handler in this process that knows
// user1 and refuses "blocked"'s client address.
struct Fixture {
  asio::io_context io;
  test::FakeHandler handler{io};
  std::shared_ptr<RouteResolver> resolver;

  explicit Fixture(std::chrono::seconds local_ttl = std::chrono::seconds(60)) {
    handler.answer_with = [](const LookupRequest& r) {
      if (r.user == "user1" || r.user == "USER1") {
        return LookupResponse::route("10.0.0.1", 7143, "user1@example.com");
      }
      if (r.user == "blocked") {
        return LookupResponse::error("Client-IP 192.0.2.1 is not allowed on this domain", 5);
      }
      return LookupResponse::error("user not found:" + r.user, 3);
    };
    ResolverSettings settings;
    settings.handlers = {handler.address()};
    settings.local_ttl = local_ttl;
    auto created = RouteResolver::create(settings);
    REQUIRE(created);
    resolver = *created;
  }

  ResolveResult ask(std::string user, std::string protocol = "imap") {
    RouteQuery q;
    q.user = std::move(user);
    q.protocol = std::move(protocol);
    q.client_ip = "192.0.2.1";
    return test::run_to_end(io, resolve(resolver, q));
  }
};

std::string outcome(const ResolveResult& r) {
  if (const auto* route = std::get_if<Route>(&r)) {
    const char* source = route->source == Route::Source::local       ? "local"
                         : route->source == Route::Source::memcached ? "memcached"
                                                                     : "handler";
    return route->host + ":" + std::to_string(route->port) + " " + route->user + " (" + source +
           ")";
  }
  const RouteError& e = std::get<RouteError>(r);
  return "error " + std::to_string(static_cast<int>(e.code)) + " wait " +
         std::to_string(e.wait_seconds) + ": " + e.message;
}

std::string error_of(Errc code, int wait, const std::string& message) {
  return "error " + std::to_string(static_cast<int>(code)) + " wait " + std::to_string(wait) +
         ": " + message;
}

}  // namespace

TEST_CASE("a route comes from the handler once, then from memory until forgotten",
          "[route][resolver]") {
  Fixture f;
  CHECK(outcome(f.ask("user1")) == "10.0.0.1:7143 user1@example.com (handler)");
  CHECK(outcome(f.ask("user1")) == "10.0.0.1:7143 user1@example.com (local)");
  CHECK(outcome(f.ask("USER1")) == "10.0.0.1:7143 user1@example.com (local)");  // one entry
  // Another protocol is another route.
  CHECK(outcome(f.ask("user1", "POP3")) == "10.0.0.1:7143 user1@example.com (handler)");
  CHECK(f.handler.users == std::vector<std::string>{"user1", "user1"});
  auto stats = f.resolver->stats();
  CHECK(stats.local_hits == 2);
  CHECK(stats.handler_lookups == 2);
  CHECK(stats.handler_failures == 0);
  CHECK(stats.local_entries == 2);

  // Forgotten by the account name: every protocol asks the handler again.
  f.resolver->invalidate("user1@example.com", "");
  CHECK(f.resolver->stats().local_entries == 0);
  CHECK(outcome(f.ask("user1")) == "10.0.0.1:7143 user1@example.com (handler)");
}

TEST_CASE("the handler's refusals keep their reason and wait", "[route][resolver]") {
  Fixture f;
  CHECK(outcome(f.ask("blocked")) ==
        error_of(Errc::permission_denied, 5, "Client-IP 192.0.2.1 is not allowed on this domain"));
  CHECK(outcome(f.ask("ghost")) == error_of(Errc::not_found, 3, "user not found:ghost"));
  // Refusals are not cached.
  CHECK(outcome(f.ask("ghost")) == error_of(Errc::not_found, 3, "user not found:ghost"));
  CHECK(f.handler.users == std::vector<std::string>{"blocked", "ghost", "ghost"});
}

TEST_CASE("without the in-process cache every login asks", "[route][resolver]") {
  Fixture f(std::chrono::seconds(0));
  CHECK(outcome(f.ask("user1")) == "10.0.0.1:7143 user1@example.com (handler)");
  CHECK(outcome(f.ask("user1")) == "10.0.0.1:7143 user1@example.com (handler)");
  CHECK(f.resolver->stats().local_hits == 0);
}

TEST_CASE("no handler reachable is unavailable, for our sake not the user's", "[route][resolver]") {
  asio::io_context io;
  ResolverSettings settings;
  settings.handlers = {test::dead_address()};
  auto resolver = RouteResolver::create(settings);
  REQUIRE(resolver);
  RouteQuery q;
  q.user = "user1";
  q.protocol = "imap";
  const ResolveResult r = test::run_to_end(io, resolve(*resolver, q));
  CHECK_THAT(outcome(r),
             Catch::StartsWith(error_of(Errc::unavailable, 0,
                                        "all lookup handlers are unavailable (1 tried): ")));
  CHECK((*resolver)->stats().handler_failures == 1);
}

TEST_CASE("settings that cannot work are refused at creation", "[route][resolver]") {
  ResolverSettings settings;
  settings.handlers = {"host:abc"};
  CHECK_FALSE(RouteResolver::create(settings));
  settings.handlers = {"127.0.0.1:7072"};
  settings.mailbox_servers = {"not an address"};
  CHECK_FALSE(RouteResolver::create(settings));
  settings.mailbox_servers = {};
  settings.memcached.servers = {"[::1"};
  CHECK_FALSE(RouteResolver::create(settings));
}

TEST_CASE("an in-process hit answers on the caller's thread, without a hop to the pool",
          "[route][resolver]") {
  Fixture f;
  CHECK(outcome(f.ask("user1")) == "10.0.0.1:7143 user1@example.com (handler)");
  // No memcached configured: the handler's answer is not written anywhere.
  CHECK(f.resolver->stats().pool_hops == 0);
  // The hit completes in the handlers ready at once (co_spawn's start and
  // the coroutine's steps): none waits for another thread, as a hop would.
  std::optional<ResolveResult> result;
  RouteQuery q;
  q.user = "user1";
  q.protocol = "imap";
  q.client_ip = "192.0.2.1";
  asio::co_spawn(f.io, resolve(f.resolver, q), [&](std::exception_ptr e, ResolveResult r) {
    REQUIRE_FALSE(e);
    result = std::move(r);
  });
  f.io.restart();
  f.io.poll();
  REQUIRE(result);
  CHECK(outcome(*result) == "10.0.0.1:7143 user1@example.com (local)");
  CHECK(f.resolver->stats().pool_hops == 0);
}

TEST_CASE("memcached whose routes could never be believed is not asked", "[route][resolver]") {
  // No mailbox_servers and no secret: a route read from memcached would be
  // rejected and one written would be refused by every proxy, so the
  // resolver neither reads nor writes, and makes no hop to its pool for it.
  asio::io_context io;
  test::FakeHandler handler{io};
  handler.answer_with = [](const LookupRequest&) {
    return LookupResponse::route("10.0.0.1", 7143, "user1@example.com");
  };
  ResolverSettings settings;
  settings.handlers = {handler.address()};
  settings.local_ttl = std::chrono::seconds(0);
  settings.memcached.servers = {test::dead_address()};  // never contacted
  auto resolver = RouteResolver::create(settings);
  REQUIRE(resolver);
  RouteQuery q;
  q.user = "alias1";  // another name than the account's: an alias would be written
  q.protocol = "imap";
  for (int i = 0; i < 2; ++i) {
    CHECK(outcome(test::run_to_end(io, resolve(*resolver, q))) ==
          "10.0.0.1:7143 user1@example.com (handler)");
  }
  (*resolver)->wait_background();
  const ResolverStats stats = (*resolver)->stats();
  CHECK(stats.pool_hops == 0);
  CHECK(stats.memcached_errors == 0);
  CHECK(stats.handler_lookups == 2);
}

TEST_CASE("a memcached hit is read on the worker, with no hop to the pool", "[memcached]") {
  test::MemcachedProcess server;
  asio::io_context io;  // outlives the thread below and its deadline sweeper
  test::FakeHandler handler{io};
  handler.answer_with = [](const LookupRequest&) {
    return LookupResponse::route("10.0.0.1", 7143, "user1@example.com");
  };
  ResolverSettings settings;
  settings.handlers = {handler.address()};
  settings.local_ttl = std::chrono::seconds(0);
  settings.memcached.servers = {server.address()};
  settings.mailbox_servers = {"10.0.0.1:7143"};
  auto resolver = RouteResolver::create(settings);
  REQUIRE(resolver);
  std::vector<std::string> outcomes;
  RouteQuery q;
  q.user = "user1@example.com";
  q.protocol = "pop3";
  q.proxy_ip = "127.0.0.1";
  std::thread worker([&] {
    outcomes.push_back(outcome(test::run_to_end(io, resolve(*resolver, q))));
    (*resolver)->wait_background();  // the fill, on the pool
    for (int i = 0; i < 3; ++i) {
      outcomes.push_back(outcome(test::run_to_end(io, resolve(*resolver, q))));
    }
  });
  worker.join();
  CHECK(outcomes == std::vector<std::string>{"10.0.0.1:7143 user1@example.com (handler)",
                                             "10.0.0.1:7143 user1@example.com (memcached)",
                                             "10.0.0.1:7143 user1@example.com (memcached)",
                                             "10.0.0.1:7143 user1@example.com (memcached)"});
  const ResolverStats stats = (*resolver)->stats();
  CHECK(stats.pool_hops == 1);  // the fill after the handler's answer, and nothing else
  CHECK(stats.memcached_worker_reads == 4);
  CHECK(stats.memcached_fallbacks == 0);
  CHECK(stats.memcached_hits == 3);
  CHECK(handler.users.size() == 1);

  // With the server gone the reader hands back to libmemcached (one hop a
  // login), which finds nothing: the handler answers.
  server.stop();
  std::thread again([&] { outcomes.push_back(outcome(test::run_to_end(io, resolve(*resolver, q)))); });
  again.join();
  CHECK(outcomes.back() == "10.0.0.1:7143 user1@example.com (handler)");
  CHECK((*resolver)->stats().memcached_fallbacks == 1);
}

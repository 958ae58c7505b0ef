// RouteResolver's gssapi lookups: Zimbra's request (Auth-Method gssapi,
// Auth-ID, the admin account), checked before it is sent, the token handed to
// the caller, and never a cache: not in process, not in memcached.
#include "lib/log/logger.hpp"
#include "lib/route/route_resolver.hpp"
#include "lib/route/route_resolver_asio.hpp"

#include "tests/support/memcached_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/route/fake_handler.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace zmproxy;
using namespace zmproxy::route;
namespace asio = net::asio;

namespace {

// One handler in this process that answers a gssapi lookup of
// alice@EXAMPLE.COM with the account alice@example.com and a token, and
// every username lookup with a route; optionally a real memcached.
struct Fixture {
  asio::io_context io;
  test::FakeHandler handler{io};
  std::vector<LookupRequest> asked;
  std::optional<test::MemcachedProcess> memcached;
  std::shared_ptr<RouteResolver> resolver;

  explicit Fixture(bool with_memcached = false,
                   std::string admin_user = "zmproxy-admin",
                   std::string admin_password = "s3cret-admin") {
    handler.answer_with = [this](const LookupRequest& r) {
      asked.push_back(r);
      if (r.method == "gssapi") {
        if (r.auth_id != "alice@EXAMPLE.COM") {
          return LookupResponse::error("(GSSAPI) no account for principal", 3);
        }
        auto answer = LookupResponse::route("10.0.0.1", 7143, "alice@example.com");
        answer.token = "token-" + std::to_string(asked.size());
        return answer;
      }
      return LookupResponse::route("10.0.0.1", 7143, r.user);
    };
    ResolverSettings settings;
    settings.handlers = {handler.address()};
    settings.mailbox_servers = {"10.0.0.1:7143"};  // so that username routes are cached
    settings.gssapi_admin_user = std::move(admin_user);
    settings.gssapi_admin_password = std::move(admin_password);
    if (with_memcached) {
      memcached.emplace();
      settings.memcached.servers = {memcached->address()};
    }
    auto created = RouteResolver::create(settings);
    REQUIRE(created);
    resolver = *created;
  }

  ResolveResult gssapi(std::string principal, std::string authz = "") {
    RouteQuery q;
    q.gssapi_principal = std::move(principal);
    q.user = std::move(authz);
    q.protocol = "imap";
    q.client_ip = "192.0.2.1";
    q.proxy_ip = "127.0.0.1";
    return test::run_to_end(io, resolve(resolver, q));
  }

  ResolveResult username(std::string user) {
    RouteQuery q;
    q.user = std::move(user);
    q.protocol = "imap";
    q.proxy_ip = "127.0.0.1";
    return test::run_to_end(io, resolve(resolver, q));
  }

  std::uint64_t items() const { return test::raw_stat(memcached->port(), "total_items").value(); }
};

}  // namespace

TEST_CASE("a gssapi query sends Zimbra's gssapi request", "[route][resolver][gssapi]") {
  Fixture f;
  ResolveResult r = f.gssapi("alice@EXAMPLE.COM");
  REQUIRE(std::holds_alternative<Route>(r));
  REQUIRE(f.asked.size() == 1);
  const LookupRequest& sent = f.asked[0];
  CHECK(sent.method == "gssapi");
  CHECK(sent.auth_id == "alice@EXAMPLE.COM");
  CHECK(sent.user == "alice@EXAMPLE.COM");  // no authorization identity: the principal
  CHECK(sent.admin_user == "zmproxy-admin");
  CHECK(sent.admin_pass == "s3cret-admin");
  CHECK(sent.proxy_ip == "127.0.0.1");
  CHECK(sent.client_ip == "192.0.2.1");
  CHECK(sent.protocol == "imap");

  // An authorization identity goes as Auth-User.
  f.gssapi("alice@EXAMPLE.COM", "shared@example.com");
  REQUIRE(f.asked.size() == 2);
  CHECK(f.asked[1].user == "shared@example.com");
  CHECK(f.asked[1].auth_id == "alice@EXAMPLE.COM");
}

TEST_CASE("a gssapi route carries the account and the token", "[route][resolver][gssapi]") {
  Fixture f;
  const Route route = std::get<Route>(f.gssapi("alice@EXAMPLE.COM"));
  CHECK(route.host == "10.0.0.1");
  CHECK(route.port == 7143);
  CHECK(route.user == "alice@example.com");
  CHECK(route.token == "token-1");
  CHECK(route.source == Route::Source::handler);
  // A refusal is the handler's.
  const RouteError e = std::get<RouteError>(f.gssapi("mallory@EXAMPLE.COM"));
  CHECK(e.code == Errc::not_found);
  CHECK(e.message == "(GSSAPI) no account for principal");
  CHECK(e.wait_seconds == 3);
  // A username route has no token.
  CHECK(std::get<Route>(f.username("bob")).token.empty());
}

TEST_CASE("a gssapi answer without a token is not a route", "[route][resolver][gssapi]") {
  Fixture f;
  f.handler.answer_with = [](const LookupRequest&) {
    return LookupResponse::route("10.0.0.1", 7143, "alice@example.com");
  };
  const RouteError e = std::get<RouteError>(f.gssapi("alice@EXAMPLE.COM"));
  CHECK(e.code == Errc::unavailable);
}

TEST_CASE("gssapi values are checked before anything is sent", "[route][resolver][gssapi]") {
  SECTION("control bytes in the principal") {
    Fixture f;
    const RouteError e = std::get<RouteError>(f.gssapi("alice@EXAMPLE.COM\r\nAuth-User: root"));
    CHECK(e.code == Errc::invalid_argument);
    CHECK(e.message == "gssapi lookup not sent: (GSSAPI) invalid header field Auth-ID");
    CHECK(f.asked.empty());
  }
  SECTION("a NUL in the authorization identity") {
    Fixture f;
    const RouteError e =
        std::get<RouteError>(f.gssapi("alice@EXAMPLE.COM", std::string("bob\0x", 5)));
    CHECK(e.message == "gssapi lookup not sent: (GSSAPI) invalid header field Auth-User");
    CHECK(f.asked.empty());
  }
  SECTION("an oversized principal") {
    Fixture f;
    const RouteError e = std::get<RouteError>(f.gssapi(std::string(300, 'a') + "@EXAMPLE.COM"));
    CHECK(e.message == "gssapi lookup not sent: (GSSAPI) invalid header field Auth-ID");
    CHECK(f.asked.empty());
  }
  SECTION("no admin account configured") {
    Fixture f(false, "", "");
    const RouteError e = std::get<RouteError>(f.gssapi("alice@EXAMPLE.COM"));
    CHECK(e.message == "gssapi lookup not sent: (GSSAPI) missing header field Auth-Admin-User");
    CHECK(e.code == Errc::unavailable);  // our setting, not the user's failed login
    CHECK(f.asked.empty());
  }
  SECTION("a line break in the admin password") {
    Fixture f(false, "zmproxy-admin", "pass\nX-Proxy-IP: 10.1.1.1");
    const RouteError e = std::get<RouteError>(f.gssapi("alice@EXAMPLE.COM"));
    CHECK(e.message == "gssapi lookup not sent: (GSSAPI) invalid header field Auth-Admin-Pass");
    CHECK(f.asked.empty());
  }
}

TEST_CASE("gssapi routes are never cached, in process or in memcached",
          "[route][resolver][gssapi][memcached]") {
  Fixture f(true);
  CHECK(std::get<Route>(f.gssapi("alice@EXAMPLE.COM")).token == "token-1");
  CHECK(std::get<Route>(f.gssapi("alice@EXAMPLE.COM")).token == "token-2");
  CHECK(f.asked.size() == 2);  // the handler asked each time
  f.resolver->wait_background();
  CHECK(f.items() == 0);  // nothing written to memcached
  auto stats = f.resolver->stats();
  CHECK(stats.local_entries == 0);
  CHECK(stats.local_hits == 0);
  CHECK(stats.memcached_hits == 0);

  // The account's username route, once cached, does not answer a gssapi
  // login either.
  CHECK(std::get<Route>(f.username("alice@example.com")).source == Route::Source::handler);
  f.resolver->wait_background();
  CHECK(f.items() > 0);  // this fixture does cache username routes
  CHECK(std::get<Route>(f.username("alice@example.com")).source == Route::Source::local);
  const Route again = std::get<Route>(f.gssapi("alice@EXAMPLE.COM", "alice@example.com"));
  CHECK(again.source == Route::Source::handler);
  CHECK(again.token == "token-4");
  CHECK(f.asked.size() == 4);
}

TEST_CASE("neither the token nor the admin password is logged", "[route][resolver][gssapi]") {
  test::TempDir dir;
  const auto file = dir.path() / "zmproxy.log";
  const bool was_debug = log::enabled(log::Level::debug);
  const bool was_info = log::enabled(log::Level::info);
  REQUIRE(log::set_file(file));
  log::set_level(log::Level::debug);
  {
    Fixture f(false, "zmproxy-admin", "s3cret-admin");
    f.handler.answer_with = [&f](const LookupRequest& r) {
      f.asked.push_back(r);
      auto answer = LookupResponse::route("10.0.0.1", 7143, "alice@example.com");
      answer.token = "the-secret-token";
      return answer;
    };
    CHECK(std::get<Route>(f.gssapi("alice@EXAMPLE.COM")).token == "the-secret-token");
    // A handler that fails is logged (its address), the request is not.
    ResolverSettings settings;
    settings.handlers = {test::dead_address(), f.handler.address()};
    settings.gssapi_admin_user = "zmproxy-admin";
    settings.gssapi_admin_password = "s3cret-admin";
    auto two = RouteResolver::create(settings);
    REQUIRE(two);
    RouteQuery q;
    q.gssapi_principal = "alice@EXAMPLE.COM";
    q.protocol = "imap";
    q.proxy_ip = "127.0.0.1";
    for (int i = 0; i < 2; ++i) {
      CHECK(std::holds_alternative<Route>(test::run_to_end(f.io, resolve(*two, q))));
    }
  }
  log::set_file("");
  log::set_level(was_debug ? log::Level::debug : was_info ? log::Level::info : log::Level::warn);
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str().find("lookup handler") != std::string::npos);  // the log was written
  CHECK(text.str().find("the-secret-token") == std::string::npos);
  CHECK(text.str().find("s3cret-admin") == std::string::npos);
}

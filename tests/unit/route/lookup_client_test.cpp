#include "lib/route/lookup_client.hpp"

#include "tests/unit/route/fake_handler.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

using namespace zmproxy;
using namespace zmproxy::route;
namespace asio = net::asio;

TEST_CASE("lookup handlers are host:port or an http URL, 7072 by default",
          "[route][lookup_client]") {
  auto plain = parse_lookup_handler(" 10.0.0.5:7072 ");
  REQUIRE(plain);
  CHECK(plain->address == core::Address{"10.0.0.5", 7072});
  CHECK(plain->host_header == "10.0.0.5:7072");
  auto url = parse_lookup_handler("HTTP://mbox1.example.com:7073/service/extension/nginx-lookup");
  REQUIRE(url);
  CHECK(url->address == core::Address{"mbox1.example.com", 7073});
  CHECK(url->host_header == "mbox1.example.com:7073");
  auto bare = parse_lookup_handler("http://[::1]");
  REQUIRE(bare);
  CHECK(bare->address == core::Address{"::1", 7072});
  CHECK(bare->host_header == "[::1]");

  const auto https = parse_lookup_handler("https://mbox1.example.com:7073/");
  REQUIRE_FALSE(https);
  CHECK(https.error().message ==
        "lookup handler https://mbox1.example.com:7073/: https is not "
        "supported yet; use http://");
  for (const char* bad : {"host:abc", "2001:db8::1::2", "", "http://", "host:0"}) {
    INFO(bad);
    const auto r = parse_lookup_handler(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.starts_with("lookup handler: "));
  }
}

TEST_CASE("handlers are tried round robin, those marked failed last", "[route][lookup_client]") {
  auto none = [](std::size_t) { return false; };
  CHECK(handler_order(3, 0, none) == std::vector<std::size_t>{0, 1, 2});
  CHECK(handler_order(3, 2, none) == std::vector<std::size_t>{2, 0, 1});
  auto first_failed = [](std::size_t i) { return i == 0; };
  CHECK(handler_order(3, 0, first_failed) == std::vector<std::size_t>{1, 2, 0});
  CHECK(handler_order(3, 2, first_failed) == std::vector<std::size_t>{2, 1, 0});
  auto all = [](std::size_t) { return true; };
  CHECK(handler_order(2, 1, all) == std::vector<std::size_t>{1, 0});
  CHECK(handler_order(0, 0, none).empty());
}

TEST_CASE("a query becomes Zimbra's request", "[route][lookup_client]") {
  RouteQuery q;
  q.user = "John@Example.com";
  q.protocol = "imapssl";
  q.client_ip = "192.0.2.1";
  q.proxy_ip = "10.0.0.1";
  q.login_attempt = 2;
  LookupRequest r = lookup_request(q, "s3cret");
  CHECK(r.method == "username");
  CHECK(r.user == "John@Example.com");
  CHECK(r.protocol == "imapssl");
  CHECK(r.client_ip == "192.0.2.1");
  CHECK(r.proxy_ip == "10.0.0.1");
  CHECK(r.login_attempt == 2);
  CHECK(r.secret == "s3cret");
  CHECK_FALSE(r.admin);
  q.by_id = true;
  q.admin = true;
  q.proxy_host = "mail.example.com";
  r = lookup_request(q, "");
  CHECK(r.method == "zimbraId");
  CHECK(r.admin);
  CHECK(r.proxy_host == "mail.example.com");
  CHECK(r.secret.empty());
}

TEST_CASE("a gssapi query becomes Zimbra's gssapi request", "[route][lookup_client]") {
  RouteQuery q;
  q.gssapi_principal = "alice@EXAMPLE.COM";
  q.protocol = "pop3";
  q.client_ip = "192.0.2.1";
  q.proxy_ip = "10.0.0.1";
  q.proxy_host = "ignored";
  q.admin = true;
  LookupRequest r = lookup_request(q, "s3cret", "zmproxy-admin", "admin-pass");
  CHECK(r.method == "gssapi");
  CHECK(r.auth_id == "alice@EXAMPLE.COM");
  CHECK(r.user == "alice@EXAMPLE.COM");  // no authorization identity: the principal
  CHECK(r.admin_user == "zmproxy-admin");
  CHECK(r.admin_pass == "admin-pass");
  CHECK(r.protocol == "pop3");
  CHECK(r.client_ip == "192.0.2.1");
  CHECK(r.proxy_ip == "10.0.0.1");
  CHECK(r.secret == "s3cret");
  CHECK_FALSE(r.admin);  // a mail login
  CHECK(r.proxy_host.empty());
  q.user = "shared@example.com";
  CHECK(lookup_request(q, "", "a", "b").user == "shared@example.com");
  // A username query sends no admin account even when one is configured.
  q.gssapi_principal.clear();
  r = lookup_request(q, "", "zmproxy-admin", "admin-pass");
  CHECK(r.method == "username");
  CHECK(r.admin_user.empty());
  CHECK(r.admin_pass.empty());
}

namespace {

using test::dead_address;
using test::FakeHandler;

std::variant<LookupResponse, RouteError> ask(asio::io_context& io,
                                             LookupClient& client,
                                             std::string user) {
  RouteQuery q;
  q.user = std::move(user);
  q.protocol = "imap";
  return test::run_to_end(io, client.ask(q));
}

}  // namespace

TEST_CASE("a failed handler is skipped for the retry interval and the next one answers",
          "[route][lookup_client]") {
  asio::io_context io;
  FakeHandler live(io, "s3cret");
  ResolverSettings settings;
  settings.handlers = {dead_address(),
                       "http://" + live.address() + "/service/extension/nginx-lookup"};
  settings.secret = "s3cret";
  settings.retry_interval = std::chrono::minutes(10);
  auto client = LookupClient::create(settings);
  REQUIRE(client);

  // Round robin starts at the dead one: it fails, the live one answers.
  auto first = ask(io, **client, "user1");
  REQUIRE(std::holds_alternative<LookupResponse>(first));
  CHECK(std::get<LookupResponse>(first).user == "user1");
  CHECK((*client)->lookups() == 2);
  CHECK((*client)->failures() == 1);
  // Next the live one's turn; then the dead one's, but it is marked failed
  // and goes last: no more failures.
  for (const char* user : {"user2", "user3"}) {
    auto r = ask(io, **client, user);
    REQUIRE(std::holds_alternative<LookupResponse>(r));
    CHECK(std::get<LookupResponse>(r).user == user);
  }
  CHECK((*client)->lookups() == 4);
  CHECK((*client)->failures() == 1);
  CHECK(live.users == std::vector<std::string>{"user1", "user2", "user3"});
  CHECK(live.counters.refused == 0);  // the secret was sent
}

TEST_CASE("no handler answering, or none configured, is unavailable", "[route][lookup_client]") {
  asio::io_context io;
  ResolverSettings settings;
  auto none = LookupClient::create(settings);
  REQUIRE(none);
  auto r = ask(io, **none, "user1");
  REQUIRE(std::holds_alternative<RouteError>(r));
  CHECK(std::get<RouteError>(r).code == Errc::unavailable);
  CHECK(std::get<RouteError>(r).message == "no lookup handlers are configured");

  settings.handlers = {dead_address(), dead_address()};
  auto dead = LookupClient::create(settings);
  REQUIRE(dead);
  r = ask(io, **dead, "user1");
  REQUIRE(std::holds_alternative<RouteError>(r));
  CHECK(std::get<RouteError>(r).code == Errc::unavailable);
  // Each handler named with what failed: the one line the session logs.
  const std::string& message = std::get<RouteError>(r).message;
  CHECK_THAT(message,
             Catch::StartsWith("all lookup handlers are unavailable (2 tried): 127.0.0.1:"));
  CHECK_THAT(message, Catch::Contains(": cannot connect: Connection refused; 127.0.0.1:"));
  CHECK_THAT(message,
             Catch::EndsWith(": cannot connect: Connection refused (each skipped for 60000 ms)"));
  CHECK((*dead)->failures() == 2);

  settings.handlers = {"https://mbox1.example.com/"};
  CHECK_FALSE(LookupClient::create(settings));
}

namespace {

// This process's open descriptors.
std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

// Runs `io` until this process has `want` descriptors open (at most 5 s):
// the count then.
std::size_t settle_fds(asio::io_context& io, std::size_t want) {
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (open_fds() != want && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return open_fds();
}

}  // namespace

TEST_CASE("a replaced client's idle connections are closed by the next client's lookup",
          "[route][lookup_client]") {
  asio::io_context io;
  FakeHandler live(io);
  ResolverSettings settings;
  settings.handlers = {live.address()};
  const std::size_t before = open_fds();

  auto first = LookupClient::create(settings);
  REQUIRE(first);
  REQUIRE(std::holds_alternative<LookupResponse>(ask(io, **first, "user1")));
  // Its keep-alive connection stays open, both ends in this process.
  CHECK(settle_fds(io, before + 2) == before + 2);

  // A reload that changes [route] replaces the client: the next one's
  // lookup closes the old one's idle connection (and the handler its end).
  first->reset();
  auto second = LookupClient::create(settings);
  REQUIRE(second);
  REQUIRE(std::holds_alternative<LookupResponse>(ask(io, **second, "user2")));
  CHECK(settle_fds(io, before + 2) == before + 2);
  // Reloads do not pile connections up.
  for (int i = 0; i < 5; ++i) {
    second->reset();
    second = LookupClient::create(settings);
    REQUIRE(second);
    REQUIRE(std::holds_alternative<LookupResponse>(ask(io, **second, "user3")));
  }
  CHECK(settle_fds(io, before + 2) == before + 2);
  CHECK(live.users.size() == 7);
}

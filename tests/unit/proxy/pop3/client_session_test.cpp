// A whole POP3 session in process: run_session with a hand-built
// Generation, a FakeUpstream lookup handler and a FakeUpstream mailbox.
#include "lib/proxy/pop3/client_session.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/proxy/session_harness.hpp"

using namespace zmproxy;
using test::FakeUpstream;

TEST_CASE("pop3 session: login OK hands off with the pipelined commands", "[pop3][session]") {
  FakeUpstream mailbox("+OK ready\r\n",
                       {{"XOIP", "+OK\r\n"}, {"USER bob", "+OK\r\n"}, {"PASS secret", "+OK Logged in.\r\n"}});
  FakeUpstream lookup("", {{"GET ", FakeUpstream::route_reply(mailbox.port()), true}});
  const auto gen = test::make_generation("[upstream]\nssl = false\nauth_wait = \"0s\"\n", lookup.port());
  const std::string seen = test::drive_session(&proxy::pop3::run_session, gen,
                                               "USER bob\r\nPASS secret\r\nSTAT\r\n", "Logged in", mailbox);
  CHECK(seen == "+OK POP3 ready\r\n+OK\r\n+OK Logged in.\r\n");
  CHECK(mailbox.failure().empty());
  const std::string upstream = mailbox.received();
  const auto pass_at = upstream.find("PASS secret\r\n");
  REQUIRE(pass_at != std::string::npos);
  CHECK(upstream.substr(pass_at) == "PASS secret\r\nSTAT\r\n");
  CHECK(gen->counters->of(proxy::Protocol::pop3).logins == 1);
}

TEST_CASE("pop3 session: STLS without a certificate is refused and USER kept", "[pop3][session]") {
  // Neither is ever connected to: they give up after 100 ms.
  FakeUpstream mailbox("+OK ready\r\n", {}, std::chrono::milliseconds(100));
  FakeUpstream lookup("", {}, std::chrono::milliseconds(100));
  const auto gen = test::make_generation("", lookup.port());
  const std::string seen = test::drive_session(&proxy::pop3::run_session, gen, "CAPA\r\nSTLS\r\nQUIT\r\n",
                                               "+OK bye", mailbox);
  CHECK(seen.find("STLS\r\n") == std::string::npos);  // not offered in CAPA
  CHECK(seen.find("-ERR STLS is not available here\r\n") != std::string::npos);
  CHECK(seen.find("+OK bye\r\n") != std::string::npos);
}

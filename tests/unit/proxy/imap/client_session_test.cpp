// A whole IMAP session in process: run_session with a hand-built
// Generation, a FakeUpstream lookup handler and a FakeUpstream mailbox.
#include "lib/proxy/imap/client_session.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/proxy/session_harness.hpp"

using namespace zmproxy;
using test::FakeUpstream;

TEST_CASE("imap session: login OK hands off with the pipelined commands", "[imap][session]") {
  FakeUpstream mailbox("* OK [CAPABILITY IMAP4rev1 ID] ready\r\n",
                       {{"zp", "{tag} OK ID completed\r\n"}, {"a1 LOGIN", "a1 OK Logged in\r\n"}});
  FakeUpstream lookup("", {{"GET ", FakeUpstream::route_reply(mailbox.port()), true}});
  const auto gen = test::make_generation("[upstream]\nssl = false\nauth_wait = \"0s\"\n", lookup.port());
  const std::string seen = test::drive_session(&proxy::imap::run_session, gen,
                                               "a1 LOGIN bob secret\r\na2 SELECT INBOX\r\n", "a1 OK", mailbox);
  CHECK(seen.find("* OK") == 0);
  CHECK(seen.find("a1 OK Logged in\r\n") != std::string::npos);
  CHECK(mailbox.failure().empty());
  // The command the client sent after its LOGIN reached the mailbox, after the login.
  const std::string upstream = mailbox.received();
  const auto login_at = upstream.find("a1 LOGIN \"bob\" \"secret\"\r\n");
  REQUIRE(login_at != std::string::npos);
  CHECK(upstream.find("a2 SELECT INBOX\r\n") > login_at);
  CHECK(gen->counters->of(proxy::Protocol::imap).logins == 1);
}

TEST_CASE("imap session: a refused login is refused to the client and counted", "[imap][session]") {
  FakeUpstream mailbox("* OK [CAPABILITY IMAP4rev1 ID] ready\r\n",
                       {{"zp", "{tag} OK ID completed\r\n"}, {"a1 LOGIN", "a1 NO [AUTHENTICATIONFAILED] nope\r\n"}});
  FakeUpstream lookup("", {{"GET ", FakeUpstream::route_reply(mailbox.port()), true}});
  const auto gen = test::make_generation("[upstream]\nssl = false\nauth_wait = \"0s\"\n", lookup.port());
  const std::string seen = test::drive_session(&proxy::imap::run_session, gen, "a1 LOGIN bob secret\r\n",
                                               "a1 NO", mailbox);
  CHECK(seen.find("a1 NO [AUTHENTICATIONFAILED] nope\r\n") != std::string::npos);  // pass_errors
  CHECK(gen->counters->of(proxy::Protocol::imap).login_failures == 1);
}

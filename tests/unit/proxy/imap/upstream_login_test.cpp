// The IMAP login at the mailbox against a scripted mailbox (FakeUpstream):
// the verdict is only the tagged reply to the client's tag after the reply
// to the proxy's ID; anything else is unavailable and no login is believed.
#include "lib/proxy/imap/upstream_login.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/proxy/session_harness.hpp"

using namespace zmproxy;
using proxy::mail::MailboxLoginRequest;
using proxy::mail::MailboxVerdict;
using test::FakeUpstream;

namespace {

const char* const k_greeting = "* OK [CAPABILITY IMAP4rev1 ID LITERAL+ SASL-IR] ready\r\n";

MailboxVerdict imap_verdict(FakeUpstream& fake, MailboxLoginRequest request) {
  auto login = [](net::tcp::socket& s, const MailboxLoginRequest& r) { return proxy::imap::login_at_mailbox(s, r); };
  return test::verdict_of(login, fake, std::move(request));
}

}  // namespace

TEST_CASE("imap upstream login: the client's tag's reply after the ID's is the verdict", "[imap][upstream_login]") {
  FakeUpstream fake(k_greeting, {{"zp", "* ID NIL\r\n{tag} OK ID completed\r\n"},
                                 {"a1 LOGIN", "a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n"}});
  const MailboxVerdict v = imap_verdict(fake, test::login_request(fake, "a1"));
  CHECK(v.kind == MailboxVerdict::Kind::accepted);
  CHECK(v.reply == "a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
  CHECK(v.user == "bob@example.com");
  CHECK(fake.failure().empty());
  const std::string sent = fake.received();
  CHECK(sent.find("\"X-ORIGINATING-IP\" \"192.0.2.7\" \"X-ORIGINATING-PORT\" \"40000\"") != std::string::npos);
  CHECK(sent.find("a1 LOGIN \"bob@example.com\" \"secret\"\r\n") != std::string::npos);
  // The ID goes first, under the proxy's own random tag, in the same write.
  CHECK(sent.rfind("zp", 0) == 0);
}

TEST_CASE("imap upstream login: an OK under the client's tag before the ID's reply is not believed",
          "[imap][upstream_login]") {
  FakeUpstream fake(k_greeting, {{"zp", "a1 OK Logged in\r\n"}});
  const MailboxVerdict v = imap_verdict(fake, test::login_request(fake, "a1"));
  CHECK(v.kind == MailboxVerdict::Kind::unavailable);
  CHECK(v.why == "a tagged reply out of order during login");
}

TEST_CASE("imap upstream login: a reply under a tag nobody sent is unavailable", "[imap][upstream_login]") {
  FakeUpstream fake(k_greeting, {{"zp", "{tag} OK ID completed\r\n"}, {"a1 LOGIN", "a2 OK Logged in\r\n"}});
  const MailboxVerdict v = imap_verdict(fake, test::login_request(fake, "a1"));
  CHECK(v.kind == MailboxVerdict::Kind::unavailable);
  CHECK(v.why == "a tagged reply out of order during login");
}

TEST_CASE("imap upstream login: the ID's OK is never the login's", "[imap][upstream_login]") {
  // The mailbox answers only the ID and then closes: no verdict at all.
  FakeUpstream fake(k_greeting, {{"zp", "{tag} OK ID completed\r\n* BYE bye\r\n"}});
  const MailboxVerdict v = imap_verdict(fake, test::login_request(fake, "a1"));
  CHECK(v.kind == MailboxVerdict::Kind::unavailable);
}

TEST_CASE("imap upstream login: NO is a refusal with the mailbox's text", "[imap][upstream_login]") {
  FakeUpstream fake(k_greeting, {{"zp", "{tag} OK ID completed\r\n"},
                                 {"a1 LOGIN", "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"}});
  const MailboxVerdict v = imap_verdict(fake, test::login_request(fake, "a1"));
  CHECK(v.kind == MailboxVerdict::Kind::refused);
  CHECK(v.reply == "[AUTHENTICATIONFAILED] Authentication failed.");
}

TEST_CASE("imap upstream login: no greeting, no login", "[imap][upstream_login]") {
  FakeUpstream fake("* BYE go away\r\n", {});
  const MailboxVerdict v = imap_verdict(fake, test::login_request(fake, "a1"));
  CHECK(v.kind == MailboxVerdict::Kind::unavailable);
  CHECK(v.why == "no IMAP greeting");
  CHECK(fake.received().empty());
}

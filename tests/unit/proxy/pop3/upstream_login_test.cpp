// The POP3 login at the mailbox against a scripted mailbox (FakeUpstream):
// one command at a time, and a reply followed by bytes the mailbox did not
// owe is a protocol error, so no reply is taken for another's.
#include "lib/proxy/pop3/upstream_login.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/proxy/session_harness.hpp"

using namespace zmproxy;
using proxy::mail::MailboxLoginRequest;
using proxy::mail::MailboxVerdict;
using test::FakeUpstream;

namespace {

MailboxVerdict pop3_verdict(FakeUpstream& fake, MailboxLoginRequest request) {
  auto login = [](net::tcp::socket& s, const MailboxLoginRequest& r) { return proxy::pop3::login_at_mailbox(s, r); };
  return test::verdict_of(login, fake, std::move(request));
}

}  // namespace

TEST_CASE("pop3 upstream login: XOIP, USER and PASS one at a time", "[pop3][upstream_login]") {
  FakeUpstream fake("+OK ready\r\n", {{"XOIP 192.0.2.7", "+OK\r\n"},
                                      {"USER bob@example.com", "+OK\r\n"},
                                      {"PASS secret", "+OK Logged in.\r\n"}});
  const MailboxVerdict v = pop3_verdict(fake, test::login_request(fake, ""));
  CHECK(v.kind == MailboxVerdict::Kind::accepted);
  CHECK(v.reply == "+OK Logged in.\r\n");
  CHECK(v.user == "bob@example.com");
  CHECK(fake.failure().empty());
}

TEST_CASE("pop3 upstream login: XCLIENT when the greeting offers it", "[pop3][upstream_login]") {
  FakeUpstream fake("+OK [XCLIENT] ready\r\n", {{"XCLIENT ADDR=192.0.2.7 PORT=40000", "+OK\r\n"},
                                                {"USER bob@example.com", "+OK\r\n"},
                                                {"PASS secret", "+OK Logged in.\r\n"}});
  CHECK(pop3_verdict(fake, test::login_request(fake, "")).kind == MailboxVerdict::Kind::accepted);
  CHECK(fake.failure().empty());
}

TEST_CASE("pop3 upstream login: bytes after a reply are refused", "[pop3][upstream_login]") {
  SECTION("after XOIP's") {
    FakeUpstream fake("+OK ready\r\n", {{"XOIP", "+OK\r\n+OK Logged in.\r\n"}});
    const MailboxVerdict v = pop3_verdict(fake, test::login_request(fake, ""));
    CHECK(v.kind == MailboxVerdict::Kind::unavailable);
    CHECK(v.why == "no answer to the client's address");
    CHECK(fake.received().find("USER") == std::string::npos);
  }
  SECTION("after USER's: the extra +OK is never PASS's verdict, and PASS is never sent") {
    FakeUpstream fake("+OK ready\r\n", {{"XOIP", "+OK\r\n"}, {"USER", "+OK\r\n+OK Logged in.\r\n"}});
    const MailboxVerdict v = pop3_verdict(fake, test::login_request(fake, ""));
    CHECK(v.kind == MailboxVerdict::Kind::unavailable);
    CHECK(fake.received().find("PASS") == std::string::npos);
  }
  SECTION("after the greeting") {
    FakeUpstream fake("+OK ready\r\n+OK\r\n", {});
    const MailboxVerdict v = pop3_verdict(fake, test::login_request(fake, ""));
    CHECK(v.kind == MailboxVerdict::Kind::unavailable);
    CHECK(v.why == "no POP3 greeting");
  }
}

TEST_CASE("pop3 upstream login: -ERR is a refusal with the mailbox's text", "[pop3][upstream_login]") {
  FakeUpstream fake("+OK ready\r\n", {{"XOIP", "+OK\r\n"},
                                      {"USER", "+OK\r\n"},
                                      {"PASS", "-ERR [AUTH] Authentication failed.\r\n"}});
  const MailboxVerdict v = pop3_verdict(fake, test::login_request(fake, ""));
  CHECK(v.kind == MailboxVerdict::Kind::refused);
  CHECK(v.reply == "[AUTH] Authentication failed.");
}

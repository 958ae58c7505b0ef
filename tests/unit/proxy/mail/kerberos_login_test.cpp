// The upstream login of a GSSAPI user (kerberos_login.hpp): what each form
// builds, what it refuses, and the Dovecot master-user login replayed by the
// IMAP and POP3 upstream logins against a scripted mailbox (FakeUpstream).
#include "lib/proxy/mail/kerberos_login.hpp"

#include "lib/proxy/imap/upstream_login.hpp"
#include "lib/proxy/mail/sasl.hpp"
#include "lib/proxy/pop3/upstream_login.hpp"

#include "tests/unit/proxy/session_harness.hpp"

#include <catch2/catch.hpp>

using namespace zmproxy;
using namespace zmproxy::proxy::mail;
using test::FakeUpstream;

namespace {

KerberosUpstreamSettings master_settings() {
  KerberosUpstreamSettings s;
  s.form = KerberosUpstreamForm::dovecot_master;
  s.master_user = "zmproxy-master";
  s.master_password = "m4ster pass";
  return s;
}

KerberosUpstreamSettings zimbra_settings() {
  KerberosUpstreamSettings s;
  s.form = KerberosUpstreamForm::zimbra;
  return s;
}

// The mailbox login request for a built login: the route to `fake`, its user
// the login's authcid (what the upstream logins send as the SASL authcid).
MailboxLoginRequest request_for(const FakeUpstream& fake, const KerberosUpstreamLogin& built) {
  MailboxLoginRequest r = test::login_request(fake, built.login.tag);
  r.login = built.login;
  r.route.user = built.authcid;
  return r;
}

const std::string k_plain_ir = std::string("AUTHENTICATE PLAIN ") +
                               "YWxpY2VAZXhhbXBsZS5jb20Aem1wcm94eS1tYXN0ZXIAbTRzdGVyIHBhc3M=";

}  // namespace

TEST_CASE("kerberos upstream forms parse by name", "[proxy][kerberos_login]") {
  CHECK(parse_kerberos_upstream_form("dovecot-master") == KerberosUpstreamForm::dovecot_master);
  CHECK(parse_kerberos_upstream_form("zimbra") == KerberosUpstreamForm::zimbra);
  const auto bad = parse_kerberos_upstream_form("Zimbra");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message ==
        "kerberos upstream login form 'Zimbra' is unknown: use dovecot-master or zimbra");
}

TEST_CASE("dovecot-master: SASL PLAIN as the master user for the account",
          "[proxy][kerberos_login]") {
  auto built = kerberos_upstream_login("alice@example.com", "tok", master_settings(), "a1");
  REQUIRE(built);
  CHECK(built->login.tag == "a1");
  CHECK(built->login.sasl);
  CHECK(built->login.mechanism == SaslMechanism::plain);
  CHECK(built->login.user == "alice@example.com");
  CHECK(built->login.authzid == "alice@example.com");
  CHECK(built->login.password == "m4ster pass");
  CHECK(built->authcid == "zmproxy-master");
  CHECK(encode_plain({built->login.authzid, built->authcid, built->login.password}) ==
        k_plain_ir.substr(std::string("AUTHENTICATE PLAIN ").size()));
  // The token is not needed (nor sent).
  CHECK(kerberos_upstream_login("alice@example.com", "", master_settings()));
}

TEST_CASE("zimbra: X-ZIMBRA's payload is account NUL account NUL token",
          "[proxy][kerberos_login]") {
  auto built = kerberos_upstream_login("alice@example.com", "0_abc_def", zimbra_settings());
  REQUIRE(built);
  CHECK(built->login.sasl);
  CHECK(built->login.mechanism == SaslMechanism::x_zimbra);
  CHECK(built->login.password == std::string("alice@example.com\0alice@example.com\0"
                                             "0_abc_def",
                                             45));
  CHECK(built->authcid == "alice@example.com");
}

TEST_CASE("kerberos upstream logins refuse what cannot go upstream", "[proxy][kerberos_login]") {
  auto message = [](const Result<KerberosUpstreamLogin>& r) {
    REQUIRE_FALSE(r);
    return r.error().message;
  };
  CHECK(message(kerberos_upstream_login("", "tok", zimbra_settings())) ==
        "kerberos upstream login: the account is empty");
  CHECK(message(kerberos_upstream_login("alice\r\nx", "tok", master_settings())) ==
        "kerberos upstream login: the account is over 256 bytes or has a control byte");
  CHECK(message(kerberos_upstream_login(std::string(257, 'a'), "tok", zimbra_settings())) ==
        "kerberos upstream login: the account is over 256 bytes or has a control byte");
  CHECK(message(kerberos_upstream_login("alice", "", zimbra_settings())) ==
        "kerberos upstream login: the token is empty");
  CHECK(message(kerberos_upstream_login("alice", std::string("t\0k", 3), zimbra_settings())) ==
        "kerberos upstream login: the token is over 1024 bytes or has a control byte");
  KerberosUpstreamSettings unset = master_settings();
  unset.master_user.clear();
  CHECK(message(kerberos_upstream_login("alice", "tok", unset)) ==
        "kerberos upstream login: the master user is empty");
  unset = master_settings();
  unset.master_password.clear();
  CHECK(message(kerberos_upstream_login("alice", "tok", unset)) ==
        "kerberos upstream login: the master password is empty");
}

TEST_CASE("imap upstream login replays the master-user login as AUTHENTICATE PLAIN",
          "[proxy][kerberos_login][imap][upstream_login]") {
  FakeUpstream fake("* OK [CAPABILITY IMAP4rev1 ID SASL-IR] ready\r\n",
                    {{"zp", "{tag} OK ID completed\r\n"},
                     {"a1 " + k_plain_ir, "a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n"}});
  auto built = kerberos_upstream_login("alice@example.com", "tok", master_settings(), "a1");
  REQUIRE(built);
  auto login = [](net::tcp::socket& s, const MailboxLoginRequest& r) {
    return proxy::imap::login_at_mailbox(s, r);
  };
  const MailboxVerdict v = test::verdict_of(login, fake, request_for(fake, *built));
  CHECK(v.kind == MailboxVerdict::Kind::accepted);
  CHECK(fake.failure().empty());
  CHECK(fake.received().find("a1 " + k_plain_ir + "\r\n") != std::string::npos);
}

TEST_CASE("pop3 upstream login replays the master-user login as AUTH PLAIN",
          "[proxy][kerberos_login][pop3][upstream_login]") {
  const std::string ir = k_plain_ir.substr(std::string("AUTHENTICATE PLAIN ").size());
  FakeUpstream fake("+OK ready\r\n",
                    {{"XOIP 192.0.2.7", "+OK\r\n"}, {"AUTH PLAIN " + ir, "+OK Logged in.\r\n"}});
  auto built = kerberos_upstream_login("alice@example.com", "tok", master_settings());
  REQUIRE(built);
  auto login = [](net::tcp::socket& s, const MailboxLoginRequest& r) {
    return proxy::pop3::login_at_mailbox(s, r);
  };
  const MailboxVerdict v = test::verdict_of(login, fake, request_for(fake, *built));
  CHECK(v.kind == MailboxVerdict::Kind::accepted);
  CHECK(fake.failure().empty());
  CHECK(fake.received().find("AUTH PLAIN " + ir + "\r\n") != std::string::npos);
}

namespace {

// base64("alice@example.com" NUL "alice@example.com" NUL "0_abc_def")
const std::string k_zimbra_ir = "YWxpY2VAZXhhbXBsZS5jb20AYWxpY2VAZXhhbXBsZS5jb20AMF9hYmNfZGVm";

}  // namespace

TEST_CASE("imap upstream login sends the zimbra form as AUTHENTICATE X-ZIMBRA",
          "[proxy][kerberos_login][imap][upstream_login]") {
  auto built = kerberos_upstream_login("alice@example.com", "0_abc_def", zimbra_settings(), "a1");
  REQUIRE(built);
  auto login = [](net::tcp::socket& s, const MailboxLoginRequest& r) {
    return proxy::imap::login_at_mailbox(s, r);
  };
  SECTION("with SASL-IR") {
    FakeUpstream fake("* OK [CAPABILITY IMAP4rev1 ID SASL-IR] ready\r\n",
                      {{"zp", "{tag} OK ID completed\r\n"},
                       {"a1 AUTHENTICATE X-ZIMBRA " + k_zimbra_ir, "a1 OK Logged in\r\n"}});
    const MailboxVerdict v = test::verdict_of(login, fake, request_for(fake, *built));
    CHECK(v.kind == MailboxVerdict::Kind::accepted);
    CHECK(v.user == "alice@example.com");
    CHECK(fake.failure().empty());
  }
  SECTION("without SASL-IR, after the server's +") {
    FakeUpstream fake("* OK [CAPABILITY IMAP4rev1 ID] ready\r\n",
                      {{"zp", "{tag} OK ID completed\r\n"},
                       {"a1 AUTHENTICATE X-ZIMBRA", "+ \r\n"},
                       {k_zimbra_ir, "a1 OK Logged in\r\n"}});
    const MailboxVerdict v = test::verdict_of(login, fake, request_for(fake, *built));
    CHECK(v.kind == MailboxVerdict::Kind::accepted);
    CHECK(fake.failure().empty());
  }
}

TEST_CASE("pop3 upstream login sends the zimbra form as AUTH X-ZIMBRA",
          "[proxy][kerberos_login][pop3][upstream_login]") {
  auto built = kerberos_upstream_login("alice@example.com", "0_abc_def", zimbra_settings());
  REQUIRE(built);
  FakeUpstream fake("+OK ready\r\n", {{"XOIP 192.0.2.7", "+OK\r\n"},
                                      {"AUTH X-ZIMBRA " + k_zimbra_ir, "+OK Logged in.\r\n"}});
  auto login = [](net::tcp::socket& s, const MailboxLoginRequest& r) {
    return proxy::pop3::login_at_mailbox(s, r);
  };
  const MailboxVerdict v = test::verdict_of(login, fake, request_for(fake, *built));
  CHECK(v.kind == MailboxVerdict::Kind::accepted);
  CHECK(fake.failure().empty());
}

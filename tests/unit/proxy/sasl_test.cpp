#include "lib/proxy/mail/sasl.hpp"

#include "lib/core/base64.hpp"

#include "tests/fuzz/parser_transcripts.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace zmproxy::proxy::mail;
using zmproxy::core::base64_encode;
using zmproxy::testing::escape;
using namespace std::string_literals;

TEST_CASE("SASL mechanism names are case-insensitive", "[parser]") {
  CHECK(parse_sasl_mechanism("PLAIN") == SaslMechanism::plain);
  CHECK(parse_sasl_mechanism("plain") == SaslMechanism::plain);
  CHECK(parse_sasl_mechanism("Login") == SaslMechanism::login);
  CHECK(parse_sasl_mechanism("xoauth2") == SaslMechanism::xoauth2);
  CHECK(parse_sasl_mechanism("OAUTHBEARER") == SaslMechanism::oauthbearer);
  CHECK(parse_sasl_mechanism("GSSAPI") == SaslMechanism::gssapi);
  CHECK(parse_sasl_mechanism("external") == SaslMechanism::external);
  CHECK(parse_sasl_mechanism("cram-md5") == SaslMechanism::cram_md5);
  CHECK(parse_sasl_mechanism("SCRAM-SHA-256") == SaslMechanism::unknown);
  CHECK(parse_sasl_mechanism("") == SaslMechanism::unknown);
  CHECK(parse_sasl_mechanism("PLAINX") == SaslMechanism::unknown);
  CHECK(sasl_mechanism_name(SaslMechanism::xoauth2) == "XOAUTH2");
  CHECK(sasl_mechanism_name(SaslMechanism::cram_md5) == "CRAM-MD5");
  // X-ZIMBRA is the proxy's to send upstream, never a client's to ask for.
  CHECK(parse_sasl_mechanism("X-ZIMBRA") == SaslMechanism::unknown);
  CHECK(parse_sasl_mechanism("x-zimbra") == SaslMechanism::unknown);
  CHECK(sasl_mechanism_name(SaslMechanism::x_zimbra) == "X-ZIMBRA");
  CHECK(sasl_mechanism_name(SaslMechanism::unknown).empty());
}

TEST_CASE("PLAIN messages from RFC 4616 decode", "[parser]") {
  struct Case {
    std::string message;  // decoded
    PlainCredentials expected;
  };
  const std::vector<Case> cases = {
      // RFC 4616 §4 examples
      {"\0tim\0tanstaaftanstaaf"s, {"", "tim", "tanstaaftanstaaf"}},
      {"Ursel\0Kurt\0xipj3plmq"s, {"Ursel", "Kurt", "xipj3plmq"}},
      // passwords may hold spaces, 8-bit bytes, CR LF (only NUL is excluded)
      {"\0j\xc3\xbcrgen\0p w\r\n\xff"s, {"", "j\xc3\xbcrgen", "p w\r\n\xff"}},
      {"\0"s + std::string(256, 'u') + "\0"s + std::string(1024, 'p'),
       {"", std::string(256, 'u'), std::string(1024, 'p')}},
      {std::string(256, 'z') + "\0u\0p"s, {std::string(256, 'z'), "u", "p"}},
  };
  for (const Case& c : cases) {
    INFO(escape(c.message));
    const PlainResult parsed = parse_plain(c.message);
    REQUIRE(parsed.ok());
    CHECK(parsed.credentials == c.expected);
    const PlainResult decoded = decode_plain(base64_encode(c.message));
    REQUIRE(decoded.ok());
    CHECK(decoded.credentials == c.expected);
    // encode(decode(x)) == x, and decode(encode(c)) == c
    CHECK(plain_message(c.expected) == c.message);
    CHECK(encode_plain(c.expected) == base64_encode(c.message));
    CHECK(decode_plain(encode_plain(c.expected)).credentials == c.expected);
  }
  // The RFC 4616 example on the wire.
  CHECK(decode_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWFm").credentials ==
        PlainCredentials{"", "tim", "tanstaaftanstaaf"});
}

TEST_CASE("PLAIN validation is strict", "[parser]") {
  struct Case {
    std::string message;
    SaslError error;
  };
  const std::vector<Case> cases = {
      {"", SaslError::malformed},
      {"tim", SaslError::malformed},
      {"\0tim"s, SaslError::malformed},
      {"\0tim\0pw\0"s, SaslError::malformed},
      {"\0\0\0"s, SaslError::malformed},
      {"\0\0pw"s, SaslError::empty_authcid},
      {"\0tim\0"s, SaslError::empty_password},
      {"\0"s + std::string(257, 'u') + "\0p"s, SaslError::too_long},
      {std::string(257, 'z') + "\0u\0p"s, SaslError::too_long},
      {"\0u\0"s + std::string(1025, 'p'), SaslError::too_long},
      {"\0ti\r\nm\0pw"s, SaslError::bad_characters},
      {"a\nb\0tim\0pw"s, SaslError::bad_characters},
  };
  for (const Case& c : cases) {
    INFO(escape(c.message));
    CHECK(parse_plain(c.message).error == c.error);
    CHECK(decode_plain(base64_encode(c.message)).error == c.error);
  }
  CHECK(decode_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWFm=").error == SaslError::bad_base64);
  CHECK(decode_plain("AHRpbQB0YW5zdGFhZnRhbnN0YWFm ").error == SaslError::bad_base64);
  CHECK(decode_plain("!!!!").error == SaslError::bad_base64);
  CHECK(decode_plain(std::string(4000, 'A')).error == SaslError::too_long);
  CHECK(sasl_error_text(SaslError::bad_base64) == "invalid base64");
}

TEST_CASE("SASL client responses: '=', '*' and empty lines", "[parser]") {
  // RFC 4959 §3: "=" is an empty initial response.
  SaslResponse r = decode_initial_response("=");
  CHECK(r.kind == SaslResponseKind::data);
  CHECK(r.data.empty());
  r = decode_initial_response("dGVzdAB0ZXN0AHRlc3Q=");
  CHECK(r.kind == SaslResponseKind::data);
  CHECK(r.data == "test\0test\0test"s);
  CHECK(decode_initial_response("").error == SaslError::bad_base64);
  CHECK(decode_initial_response("*").error == SaslError::bad_base64);
  CHECK(decode_initial_response("dGVzdA").error == SaslError::bad_base64);
  CHECK(decode_initial_response(std::string(8196, 'A')).error == SaslError::too_long);
  CHECK(decode_initial_response(std::string(8192, 'A')).kind == SaslResponseKind::data);

  // RFC 3501 §6.2.2 / RFC 5034 §4: "*" cancels; an empty line is empty data.
  CHECK(decode_continuation("*").kind == SaslResponseKind::cancel);
  r = decode_continuation("");
  CHECK(r.kind == SaslResponseKind::data);
  CHECK(r.data.empty());
  CHECK(decode_continuation("=").kind == SaslResponseKind::error);
  CHECK(decode_continuation("VXNlcm5hbWU6").data == "Username:");
  CHECK(decode_continuation("** ").error == SaslError::bad_base64);

  CHECK(encode_initial_response("") == "=");
  CHECK(encode_initial_response("test\0test\0test"s) == "dGVzdAB0ZXN0AHRlc3Q=");
  for (const std::string& data : {""s, "x"s, "\0u\0p"s, std::string(600, '\xff')}) {
    CHECK(decode_initial_response(encode_initial_response(data)).data == data);
  }
}

TEST_CASE("LOGIN mechanism prompts and answers", "[parser]") {
  CHECK(k_login_username_prompt == base64_encode("Username:"));
  CHECK(k_login_password_prompt == base64_encode("Password:"));
  CHECK(check_login_username("tim").value == "tim");
  CHECK(check_login_username("").error == SaslError::empty_authcid);
  CHECK(check_login_username(std::string(256, 'u')).ok());
  CHECK(check_login_username(std::string(257, 'u')).error == SaslError::too_long);
  CHECK(check_login_username("ti\0m"s).error == SaslError::malformed);
  CHECK(check_login_username("ti\nm").error == SaslError::bad_characters);
  CHECK(check_login_password("p w\r\n").value == "p w\r\n");
  CHECK(check_login_password("").error == SaslError::empty_password);
  CHECK(check_login_password(std::string(1024, 'p')).ok());
  CHECK(check_login_password(std::string(1025, 'p')).error == SaslError::too_long);
  CHECK(check_login_password("p\0w"s).error == SaslError::malformed);
}

TEST_CASE("XOAUTH2 and OAUTHBEARER: the user is read, the token is not", "[parser]") {
  // Google's XOAUTH2 format.
  SaslValue v = oauth_user(SaslMechanism::xoauth2,
                           "user=someuser@example.com\x01"
                           "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01");
  CHECK(v.ok());
  CHECK(v.value == "someuser@example.com");
  CHECK(oauth_user(SaslMechanism::xoauth2, "auth=Bearer x\x01\x01").error == SaslError::malformed);
  CHECK(oauth_user(SaslMechanism::xoauth2,
                   "user=\x01"
                   "auth=Bearer x\x01\x01")
            .error == SaslError::malformed);
  CHECK(oauth_user(SaslMechanism::xoauth2, "user=abc").error == SaslError::malformed);
  // RFC 7628 §4.1 example.
  v = oauth_user(SaslMechanism::oauthbearer,
                 "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
                 "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01");
  CHECK(v.value == "user@example.com");
  CHECK(oauth_user(SaslMechanism::oauthbearer, "n,a=a=2Cb=3Dc,\x01").value == "a,b=c");
  CHECK(oauth_user(SaslMechanism::oauthbearer, "n,a=a=2xb,\x01").error == SaslError::malformed);
  CHECK(oauth_user(SaslMechanism::oauthbearer,
                   "n,,\x01"
                   "auth=Bearer x\x01\x01")
            .error == SaslError::malformed);
  CHECK(oauth_user(SaslMechanism::oauthbearer, "y,a=u,").value == "u");
  CHECK(oauth_user(SaslMechanism::oauthbearer, "p=tls-unique,a=u,").value == "u");
  CHECK(oauth_user(SaslMechanism::oauthbearer, "x,a=u,").error == SaslError::malformed);
  CHECK(oauth_user(SaslMechanism::oauthbearer, "n,a=u").error == SaslError::malformed);
  CHECK(oauth_user(SaslMechanism::plain, "user=u\x01").error == SaslError::malformed);
}

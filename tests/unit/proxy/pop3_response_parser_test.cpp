#include "lib/proxy/pop3/response_parser.hpp"

#include "tests/fuzz/parser_transcripts.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace zmproxy::proxy::pop3;
using zmproxy::testing::chunking_mismatch;
using zmproxy::testing::escape;
using zmproxy::testing::pop3_response_transcript;
using namespace std::string_literals;

namespace {

void check_chunking(std::string_view input, const ResponseParser::Limits& limits = {}) {
  const auto mismatch = chunking_mismatch(
      [&](std::string_view in, const std::vector<std::size_t>& cuts) {
        return pop3_response_transcript(in, cuts, limits);
      },
      input);
  INFO(mismatch.value_or(""));
  CHECK_FALSE(mismatch.has_value());
}

}  // namespace

TEST_CASE("POP3 responses from the RFCs classify", "[parser]") {
  using Kind = Response::Kind;
  struct Case {
    std::string input;
    Response expected;
  };
  const std::vector<Case> cases = {
      // RFC 1939 §4 and §7
      {"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
       {Kind::ok, "POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
        "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"}},
      {"+OK mrose is a real hoopy frood\r\n",
       {Kind::ok, "mrose is a real hoopy frood", "+OK mrose is a real hoopy frood\r\n"}},
      {"-ERR sorry, no mailbox for frated here\r\n",
       {Kind::err, "sorry, no mailbox for frated here",
        "-ERR sorry, no mailbox for frated here\r\n"}},
      {"+OK\r\n", {Kind::ok, "", "+OK\r\n"}},
      {"-ERR\n", {Kind::err, "", "-ERR\n"}},
      // RFC 2449 §8 response codes; Dovecot's greeting
      {"-ERR [IN-USE] Do you have another POP session running?\r\n",
       {Kind::err, "[IN-USE] Do you have another POP session running?",
        "-ERR [IN-USE] Do you have another POP session running?\r\n"}},
      {"+OK [XCLIENT] Dovecot (Debian) ready.\r\n",
       {Kind::ok, "[XCLIENT] Dovecot (Debian) ready.",
        "+OK [XCLIENT] Dovecot (Debian) ready.\r\n"}},
      // RFC 5034 §4 continuations
      {"+ \r\n", {Kind::continuation, "", "+ \r\n"}},
      {"+\r\n", {Kind::continuation, "", "+\r\n"}},
      {"+ VXNlcm5hbWU6\r\n", {Kind::continuation, "VXNlcm5hbWU6", "+ VXNlcm5hbWU6\r\n"}},
  };
  for (const Case& c : cases) {
    INFO(escape(c.input));
    ResponseParser parser;
    const ResponseParser::Step step = parser.feed(c.input);
    REQUIRE(step.status == ResponseParser::Status::response_ready);
    CHECK(step.consumed == c.input.size());
    CHECK(parser.take() == c.expected);
    check_chunking(c.input);
  }
}

TEST_CASE("POP3 responses: invalid lines, several in a buffer, limits", "[parser]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"+ok\r\n", "invalid@5 not a POP3 response -ERR {} raw=+ok\\r\\n\nend@5\n"},
      {"+OKAY\r\n", "invalid@7 not a POP3 response -ERR {} raw=+OKAY\\r\\n\nend@7\n"},
      {"-ERROR x\r\n", "invalid@10 not a POP3 response -ERR {} raw=-ERROR x\\r\\n\nend@10\n"},
      {"\r\n", "invalid@2 not a POP3 response -ERR {} raw=\\r\\n\nend@2\n"},
      {"* OK\r\n", "invalid@6 not a POP3 response -ERR {} raw=* OK\\r\\n\nend@6\n"},
      {"+OK a\0b\r\n"s, "invalid@9 NUL in a response -ERR {} raw=+OK a\\x00b\\r\\n\nend@9\n"},
      {"+OK hi\r\n+OK a\r\n-ERR b\r\n+ c\r\n",
       "response@8 +OK {hi} raw=+OK hi\\r\\n\nresponse@15 +OK {a} raw=+OK a\\r\\n\n"
       "response@23 -ERR {b} raw=-ERR b\\r\\n\nresponse@28 + {c} raw=+ c\\r\\n\nend@28\n"},
  };
  for (const auto& [input, expected] : cases) {
    INFO(escape(input));
    CHECK(pop3_response_transcript(input, {}) == expected);
    check_chunking(input);
  }
  ResponseParser::Limits limits;
  limits.max_line = 8;
  CHECK(pop3_response_transcript("+OK abc\n", {}, limits) ==
        "response@8 +OK {abc} raw=+OK abc\\n\nend@8\n");
  CHECK(pop3_response_transcript("+OK abc\r\n", {}, limits) ==
        "too_long@8 response line too long\n");
  check_chunking("+OK abc\r\n", limits);
  ResponseParser parser(limits);
  CHECK(parser.feed("+OK abcdefgh").status == ResponseParser::Status::too_long);
  CHECK(parser.feed("+OK\r\n").consumed == 0);
  parser.reset();
  CHECK(parser.feed("+OK\r\n").status == ResponseParser::Status::response_ready);
  CHECK(parser.feed("+OK\r\n").consumed == 0);  // blocked until take()
}

TEST_CASE("POP3 greeting capabilities and response codes", "[parser]") {
  CHECK(greeting_offers("+OK [XCLIENT] Dovecot ready.", "XCLIENT"));
  CHECK(greeting_offers("+OK [XCLIENT] Dovecot ready.\r\n", "xclient"));
  CHECK(greeting_offers("[XCLIENT] Dovecot ready.", "XCLIENT"));
  CHECK(greeting_offers("+OK [XCLIENT XOIP] ready", "XOIP"));
  CHECK_FALSE(greeting_offers("+OK [XCLIENT] Dovecot ready.", "XOIP"));
  CHECK_FALSE(greeting_offers("+OK [XCLIENTS] ready", "XCLIENT"));
  CHECK_FALSE(greeting_offers("+OK Dovecot ready. [XCLIENT]", "XCLIENT"));
  CHECK_FALSE(greeting_offers("+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>", "XCLIENT"));
  CHECK_FALSE(greeting_offers("-ERR [XCLIENT] go away", "XCLIENT"));
  CHECK_FALSE(greeting_offers("+OK [XCLIENT] ready", ""));
  CHECK_FALSE(greeting_offers("", "XCLIENT"));

  CHECK(response_code("[IN-USE] Do you have another POP session running?") == "IN-USE");
  CHECK(response_code("[SYS/TEMP] try later") == "SYS/TEMP");
  CHECK(response_code("[AUTH] Authentication failed.") == "AUTH");
  CHECK_FALSE(response_code("no code"));
  CHECK_FALSE(response_code("[]"));
  CHECK_FALSE(response_code("[open"));
}

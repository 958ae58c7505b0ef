#include "lib/proxy/imap/response_parser.hpp"

#include "tests/fuzz/parser_transcripts.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace zmproxy::proxy::imap;
using zmproxy::testing::chunking_mismatch;
using zmproxy::testing::escape;
using zmproxy::testing::imap_response_transcript;
using namespace std::string_literals;

namespace {

void check_chunking(std::string_view input, const ResponseParser::Limits& limits = {}) {
  const auto mismatch = chunking_mismatch(
      [&](std::string_view in, const std::vector<std::size_t>& cuts) {
        return imap_response_transcript(in, cuts, limits);
      },
      input);
  INFO(mismatch.value_or(""));
  CHECK_FALSE(mismatch.has_value());
}

std::vector<Response> parse_all(std::string_view input) {
  ResponseParser parser;
  std::vector<Response> out;
  while (!input.empty()) {
    const ResponseParser::Step step = parser.feed(input);
    input.remove_prefix(step.consumed);
    if (step.status == ResponseParser::Status::need_more ||
        step.status == ResponseParser::Status::too_long) {
      break;
    }
    out.push_back(parser.take());
  }
  return out;
}

}  // namespace

TEST_CASE("IMAP responses from the RFCs classify", "[parser]") {
  using Kind = Response::Kind;
  struct Case {
    std::string input;
    Response expected;
  };
  const std::vector<Case> cases = {
      // RFC 3501 §7.1 greetings and status responses
      {"* OK IMAP4rev1 Service Ready\r\n",
       {Kind::untagged, "*", "OK", "IMAP4rev1 Service Ready", "* OK IMAP4rev1 Service Ready\r\n"}},
      {"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID] Dovecot ready.\r\n",
       {Kind::untagged, "*", "OK", "[CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID] Dovecot ready.",
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID] Dovecot ready.\r\n"}},
      {"* PREAUTH IMAP4rev1 server logged in as Smith\r\n",
       {Kind::untagged, "*", "PREAUTH", "IMAP4rev1 server logged in as Smith",
        "* PREAUTH IMAP4rev1 server logged in as Smith\r\n"}},
      {"* BYE Autologout; idle for too long\r\n",
       {Kind::untagged, "*", "BYE", "Autologout; idle for too long",
        "* BYE Autologout; idle for too long\r\n"}},
      {"a001 OK LOGIN completed\r\n",
       {Kind::tagged, "a001", "OK", "LOGIN completed", "a001 OK LOGIN completed\r\n"}},
      {"a1 ok [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n",
       {Kind::tagged, "a1", "OK", "[CAPABILITY IMAP4rev1 IDLE] Logged in",
        "a1 ok [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"}},
      {"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
       {Kind::tagged, "a1", "NO", "[AUTHENTICATIONFAILED] Authentication failed.",
        "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"}},
      {"a1 BAD\r\n", {Kind::tagged, "a1", "BAD", "", "a1 BAD\r\n"}},
      {"a1 OK\n", {Kind::tagged, "a1", "OK", "", "a1 OK\n"}},
      // untagged data
      {"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n",
       {Kind::untagged, "*", "CAPABILITY", "IMAP4rev1 STARTTLS AUTH=PLAIN",
        "* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n"}},
      {"* 23 EXISTS\r\n", {Kind::untagged, "*", "23", "EXISTS", "* 23 EXISTS\r\n"}},
      {"* ID NIL\r\n", {Kind::untagged, "*", "ID", "NIL", "* ID NIL\r\n"}},
      // continuation requests
      {"+ Ready for additional command text\r\n",
       {Kind::continuation, "+", "", "Ready for additional command text",
        "+ Ready for additional command text\r\n"}},
      {"+ \r\n", {Kind::continuation, "+", "", "", "+ \r\n"}},
      {"+\r\n", {Kind::continuation, "+", "", "", "+\r\n"}},
      {"+ VXNlcm5hbWU6\r\n", {Kind::continuation, "+", "", "VXNlcm5hbWU6", "+ VXNlcm5hbWU6\r\n"}},
      // a literal inside a response is framed, its bytes kept verbatim
      {"* ID (\"name\" {5}\r\nDove\n \"x\" {0}\r\n)\r\n",
       {Kind::untagged, "*", "ID", "(\"name\" {5}\r\nDove\n \"x\" {0}\r\n)",
        "* ID (\"name\" {5}\r\nDove\n \"x\" {0}\r\n)\r\n"}},
      {"* ID (\"name\" {3+}\r\na\r\n)\r\n",
       {Kind::untagged, "*", "ID", "(\"name\" {3+}\r\na\r\n)",
        "* ID (\"name\" {3+}\r\na\r\n)\r\n"}},
  };
  for (const Case& c : cases) {
    INFO(escape(c.input));
    const std::vector<Response> got = parse_all(c.input);
    REQUIRE(got.size() == 1);
    CHECK(got[0] == c.expected);
    CHECK(got[0].is_status() == (c.expected.status == "OK" || c.expected.status == "NO" ||
                                 c.expected.status == "BAD" || c.expected.status == "PREAUTH" ||
                                 c.expected.status == "BYE"));
    check_chunking(c.input);
  }
}

TEST_CASE("IMAP responses: several in one buffer, consumed precisely", "[parser]") {
  const std::string input =
      "* CAPABILITY IMAP4rev1\r\n* ID (\"name\" {2}\r\nab)\r\na1 OK done\r\n* extra";
  ResponseParser parser;
  std::string_view rest = input;
  ResponseParser::Step step = parser.feed(rest);
  CHECK(step.status == ResponseParser::Status::response_ready);
  CHECK(step.consumed == 24);
  // A ready response blocks until take().
  CHECK(parser.feed(rest.substr(24)).consumed == 0);
  CHECK(parser.take().status == "CAPABILITY");
  rest.remove_prefix(24);
  step = parser.feed(rest);
  CHECK(step.status == ResponseParser::Status::response_ready);
  CHECK(step.consumed == 23);
  CHECK(parser.take().text == "(\"name\" {2}\r\nab)");
  rest.remove_prefix(23);
  step = parser.feed(rest);
  CHECK(step.consumed == 12);
  const Response ok = parser.take();
  CHECK(ok.tag == "a1");
  CHECK(ok.is_status());
  rest.remove_prefix(12);
  step = parser.feed(rest);
  CHECK(step.status == ResponseParser::Status::need_more);
  CHECK(step.consumed == rest.size());
  check_chunking(input);
}

TEST_CASE("IMAP responses: invalid frames and limits", "[parser]") {
  const std::vector<std::string> invalid = {
      "\r\n", "*\r\n", "* \r\n", "a1\r\n", "a(1 OK x\r\n", "a1  OK\r\n", "* OK a\0b\r\n"s,
  };
  for (const std::string& input : invalid) {
    INFO(escape(input));
    ResponseParser parser;
    const ResponseParser::Step step = parser.feed(input + "a1 OK\r\n");
    CHECK(step.status == ResponseParser::Status::invalid);
    CHECK(step.consumed == input.size());
    CHECK(parser.take().raw == input);
    // The parser goes on with the next response.
    CHECK(parser.feed("a1 OK\r\n").status == ResponseParser::Status::response_ready);
    check_chunking(input + "a1 OK\r\n");
  }
  // NUL inside a literal is data.
  CHECK(parse_all("* X {1}\r\n\0\r\n"s).at(0).text == "{1}\r\n\0"s);

  ResponseParser::Limits limits;
  limits.max_response = 16;
  const std::vector<std::string> limited = {
      "* OK 0123456789\r\n", "* OK 012345678\r\n",  "* X {4}\r\nabcd\r\n",
      "* X {7}\r\nabcd\r\n", "* X {6}\r\nabcdef\n", "*{99999999999999999999}\r\n",
      "{9999999999999}\n",
  };
  CHECK(imap_response_transcript("* OK 0123456789\r\n", {}, limits) ==
        "too_long@16 response too long\n");
  CHECK(
      imap_response_transcript("* OK 012345678\r\n", {}, limits).rfind("response@16 untagged", 0) ==
      0);
  CHECK(imap_response_transcript("* X {4}\r\nabcd\r\n", {}, limits)
            .rfind("response@15 untagged", 0) == 0);
  CHECK(imap_response_transcript("* X {7}\r\nabcd\r\n", {}, limits) ==
        "too_long@9 literal too big\n");
  CHECK(imap_response_transcript("* X {6}\r\nabcdef\n", {}, limits)
            .rfind("response@16 untagged", 0) == 0);
  CHECK(imap_response_transcript("*{99999999999999999999}\r\n", {}, limits) ==
        "too_long@16 response too long\n");
  CHECK(imap_response_transcript("{9999999999999}\n", {}, limits) ==
        "too_long@16 literal too big\n");
  for (const std::string& input : limited) {
    check_chunking(input, limits);
  }
  // The default limit is 64 KiB.
  const std::string big = "* OK " + std::string(65536 - 7, 'x') + "\r\n";
  CHECK(parse_all(big).size() == 1);
  CHECK(parse_all(big + "x").size() == 1);
  CHECK(imap_response_transcript("* OK x" + big, {}).rfind("too_long@65536 ", 0) == 0);

  ResponseParser parser(limits);
  CHECK(parser.feed(std::string(20, 'x')).status == ResponseParser::Status::too_long);
  const ResponseParser::Step again = parser.feed("a1 OK\r\n");
  CHECK(again.status == ResponseParser::Status::too_long);
  CHECK(again.consumed == 0);
  parser.reset();
  CHECK(parser.feed("a1 OK\r\n").status == ResponseParser::Status::response_ready);
}

TEST_CASE("response_code extracts the bracketed code", "[parser]") {
  CHECK(response_code("[CAPABILITY IMAP4rev1 SASL-IR] Logged in") ==
        "CAPABILITY IMAP4rev1 SASL-IR");
  CHECK(response_code("[ALERT] System shutdown in 10 minutes") == "ALERT");
  CHECK(response_code("[UNAVAILABLE] Maximum number of connections") == "UNAVAILABLE");
  CHECK(response_code("[BADCHARSET (UTF-8)] x") == "BADCHARSET (UTF-8)");
  CHECK(response_code("[AUTHENTICATIONFAILED]") == "AUTHENTICATIONFAILED");
  CHECK_FALSE(response_code("Logged in [ALERT]"));
  CHECK_FALSE(response_code("[unterminated"));
  CHECK_FALSE(response_code("[]"));
  CHECK_FALSE(response_code(""));
}

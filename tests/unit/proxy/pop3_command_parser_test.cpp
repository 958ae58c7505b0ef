#include "lib/proxy/pop3/command_parser.hpp"

#include "tests/fuzz/parser_transcripts.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace zmproxy::proxy::pop3;
using zmproxy::testing::chunking_mismatch;
using zmproxy::testing::escape;
using zmproxy::testing::pop3_command_transcript;
using namespace std::string_literals;

namespace {

void check_chunking(std::string_view input, const CommandParser::Limits& limits = {}) {
  const auto mismatch = chunking_mismatch(
      [&](std::string_view in, const std::vector<std::size_t>& cuts) {
        return pop3_command_transcript(in, cuts, limits);
      },
      input);
  INFO(mismatch.value_or(""));
  CHECK_FALSE(mismatch.has_value());
}

}  // namespace

TEST_CASE("POP3 commands from the RFCs parse", "[parser]") {
  struct Case {
    std::string input;
    Command expected;
  };
  const std::vector<Case> cases = {
      // RFC 1939 §7 examples
      {"USER mrose\r\n", {"USER", {"mrose"}, "mrose"}},
      {"PASS secret\r\n", {"PASS", {"secret"}, "secret"}},
      {"QUIT\r\n", {"QUIT", {}, ""}},
      {"NOOP\r\n", {"NOOP", {}, ""}},
      // the password is the rest of the line, spaces included
      {"PASS my secret  pass \r\n", {"PASS", {"my", "secret", "pass"}, "my secret  pass "}},
      {"PASS  lead\r\n", {"PASS", {"lead"}, " lead"}},
      {"pass \xc3\xa4\xc3\xb6\r\n", {"PASS", {"\xc3\xa4\xc3\xb6"}, "\xc3\xa4\xc3\xb6"}},
      // keywords are case-insensitive
      {"user mrose\n", {"USER", {"mrose"}, "mrose"}},
      {"Capa\r\n", {"CAPA", {}, ""}},  // RFC 2449
      {"STLS\r\n", {"STLS", {}, ""}},  // RFC 2595
      {"XOIP 192.0.2.1\r\n", {"XOIP", {"192.0.2.1"}, "192.0.2.1"}},
      // RFC 5034 §6 examples
      {"AUTH PLAIN\r\n", {"AUTH", {"PLAIN"}, "PLAIN"}},
      {"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
       {"AUTH", {"PLAIN", "dGVzdAB0ZXN0AHRlc3Q="}, "PLAIN dGVzdAB0ZXN0AHRlc3Q="}},
      {"AUTH PLAIN =\r\n", {"AUTH", {"PLAIN", "="}, "PLAIN ="}},
      {"AUTH\r\n", {"AUTH", {}, ""}},
      {"USER\r\n", {"USER", {}, ""}},
      {"USER \r\n", {"USER", {}, ""}},
      // unknown commands still parse: the session answers -ERR
      {"RETR 1\r\n", {"RETR", {"1"}, "1"}},
  };
  for (const Case& c : cases) {
    INFO(escape(c.input));
    CommandParser parser;
    const CommandParser::Step step = parser.feed(c.input);
    REQUIRE(step.status == CommandParser::Status::command_ready);
    CHECK(step.consumed == c.input.size());
    CHECK(parser.take() == c.expected);
    check_chunking(c.input);
  }
}

TEST_CASE("POP3: invalid lines, pipelining and consumed", "[parser]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\r\n", "invalid@2 empty command line\nend@2\n"},
      {" USER x\r\n", "invalid@9 invalid command name\nend@9\n"},
      {"US\xffR x\r\n", "invalid@8 invalid command name\nend@8\n"},
      {"USER a\0b\r\n"s, "invalid@10 NUL in a command\nend@10\n"},
      {"USER a\rb\r\n", "invalid@10 CR without LF\nend@10\n"},
      // RFC 2449 PIPELINING: several commands in one buffer
      {"USER a\r\nPASS b c\r\nQUIT\r\n",
       "command@8 USER rest={a} <a>\ncommand@18 PASS rest={b c} <b> <c>\ncommand@24 QUIT "
       "rest={}\nend@24\n"},
      // STLS then an injected command: consumed ends after STLS
      {"STLS\r\nUSER evil\r\n",
       "command@6 STLS rest={}\ncommand@17 USER rest={evil} <evil>\nend@17\n"},
      {"\nNOOP\r\n", "invalid@1 empty command line\ncommand@7 NOOP rest={}\nend@7\n"},
  };
  for (const auto& [input, expected] : cases) {
    INFO(escape(input));
    CHECK(pop3_command_transcript(input, {}) == expected);
    check_chunking(input);
  }
  CommandParser parser;
  CHECK(parser.feed("STLS\r\nUSER evil\r\n").consumed == 6);
  CHECK(parser.feed("USER evil\r\n").consumed == 0);  // blocked until take()
  CHECK(parser.take().name == "STLS");
}

TEST_CASE("POP3 line limits: 255 for commands, 8192 for AUTH", "[parser]") {
  const std::string pass253 = "PASS " + std::string(248, 'p') + "\r\n";
  REQUIRE(pass253.size() == 255);
  CHECK(pop3_command_transcript(pass253, {}).rfind("command@255 PASS", 0) == 0);
  const std::string pass256 = "PASS " + std::string(249, 'p') + "\r\n";
  CHECK(pop3_command_transcript(pass256, {}) == "too_long@255 command line too long\n");
  CHECK(
      pop3_command_transcript("PASS " + std::string(249, 'p') + "\n", {}).rfind("command@255", 0) ==
      0);

  const std::string auth = "AUTH XOAUTH2 " + std::string(8192 - 15, 'A') + "\r\n";
  REQUIRE(auth.size() == 8192);
  CHECK(pop3_command_transcript(auth, {}).rfind("command@8192 AUTH", 0) == 0);
  CHECK(pop3_command_transcript("auth " + auth.substr(5), {}).rfind("command@8192 AUTH", 0) == 0);
  CHECK(pop3_command_transcript("AUTH X" + auth.substr(5), {}) ==
        "too_long@8192 command line too long\n");
  // "AUTHX ..." is not an AUTH line.
  CHECK(pop3_command_transcript("AUTHX " + std::string(300, 'a') + "\r\n", {}) ==
        "too_long@255 command line too long\n");
  CHECK(pop3_command_transcript(std::string(300, 'A'), {}) ==
        "too_long@255 command line too long\n");

  CommandParser::Limits small;
  small.max_line = 8;
  small.max_auth_line = 12;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"USER ab\r\n", "too_long@8 command line too long\n"},
      {"USER a\r\n", "command@8 USER rest={a} <a>\nend@8\n"},
      {"AUTH abcde\r\n", "command@12 AUTH rest={abcde} <abcde>\nend@12\n"},
      {"AUTH abcdef\r\n", "too_long@12 command line too long\n"},
      {"AUT\r\n", "command@5 AUT rest={}\nend@5\n"},
      {"AUTHORIZE\r\n", "too_long@8 command line too long\n"},
      {"AUTH\r\nAUTH\r\nUSER abc\r\n",
       "command@6 AUTH rest={}\ncommand@12 AUTH rest={}\ntoo_long@20 command line too long\n"},
  };
  for (const auto& [input, expected] : cases) {
    INFO(escape(input));
    CHECK(pop3_command_transcript(input, {}, small) == expected);
    check_chunking(input, small);
  }

  CommandParser parser(small);
  CHECK(parser.feed("USER abcdef").status == CommandParser::Status::too_long);
  const CommandParser::Step again = parser.feed("QUIT\r\n");
  CHECK(again.status == CommandParser::Status::too_long);
  CHECK(again.consumed == 0);
  parser.reset();
  CHECK(parser.feed("QUIT\r\n").status == CommandParser::Status::command_ready);
}

TEST_CASE("POP3: parse(format_command(x)) == x", "[parser]") {
  CHECK(format_command("USER", "mrose") == "USER mrose\r\n");
  CHECK(format_command("QUIT", "") == "QUIT\r\n");
  CHECK(format_command("PASS", " spaced  out ") == "PASS  spaced  out \r\n");
  CHECK_FALSE(format_command("PASS", "a\r\nDELE 1"));
  CHECK_FALSE(format_command("PASS", "a\nb"));
  CHECK_FALSE(format_command("PASS", "a\0b"s));
  CHECK_FALSE(format_command("US ER", "x"));
  CHECK_FALSE(format_command("", "x"));
  CHECK(format_command("PASS", std::string(248, 'p')));
  CHECK_FALSE(format_command("PASS", std::string(249, 'p')));
  CHECK(format_command("AUTH", "PLAIN " + std::string(8000, 'A'), 8192));

  const std::vector<std::pair<std::string, std::string>> commands = {
      {"USER", "mrose"},
      {"PASS", "my secret  pass "},
      {"PASS", " x"},
      {"QUIT", ""},
      {"AUTH", "PLAIN dGVzdAB0ZXN0AHRlc3Q="},
      {"XOIP", "2001:db8::1"},
      {"PASS", "\xc3\xa4\t\x01"},
  };
  for (const auto& [keyword, argument] : commands) {
    INFO(keyword << " " << escape(argument));
    const auto line = format_command(keyword, argument);
    REQUIRE(line);
    CommandParser parser;
    const CommandParser::Step step = parser.feed(*line);
    REQUIRE(step.status == CommandParser::Status::command_ready);
    CHECK(step.consumed == line->size());
    const Command c = parser.take();
    CHECK(c.name == keyword);
    CHECK(c.rest == argument);
  }
}

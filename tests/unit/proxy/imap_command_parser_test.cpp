#include "lib/proxy/imap/command_parser.hpp"

#include "tests/fuzz/parser_transcripts.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace zmproxy::proxy::imap;
using namespace std::string_literals;
using zmproxy::testing::chunking_mismatch;
using zmproxy::testing::escape;
using zmproxy::testing::imap_command_transcript;

namespace {

// The transcript without byte offsets ("command@17 [a1] ..." -> "command [a1] ...").
std::string without_offsets(const std::string& transcript) {
  std::string out;
  for (std::size_t i = 0; i < transcript.size(); ++i) {
    if (transcript[i] == '@') {
      while (i + 1 < transcript.size() && transcript[i + 1] >= '0' && transcript[i + 1] <= '9') {
        ++i;
      }
      if (i + 1 < transcript.size() && transcript[i + 1] == ' ' &&
          (i + 2 >= transcript.size() || transcript[i + 2] == '\n')) {
        ++i;  // "continue@17 \n" -> "continue\n"
      }
      continue;
    }
    out += transcript[i];
  }
  return out;
}

std::string run(std::string_view input, const CommandParser::Limits& limits = {}) {
  return without_offsets(imap_command_transcript(input, {}, limits));
}

void check_chunking(std::string_view input, const CommandParser::Limits& limits = {}) {
  const auto mismatch = chunking_mismatch(
      [&](std::string_view in, const std::vector<std::size_t>& cuts) {
        return imap_command_transcript(in, cuts, limits);
      },
      input);
  INFO(mismatch.value_or(""));
  CHECK_FALSE(mismatch.has_value());
}

struct Case {
  std::string input;
  std::string expected;
};

// Feeds `input` whole; for tests that look at single Steps.
CommandParser::Step feed_all(CommandParser& parser, std::string_view input) {
  return parser.feed(input);
}

}  // namespace

TEST_CASE("IMAP commands from the RFCs parse", "[parser]") {
  const std::vector<Case> cases = {
      // RFC 3501 §6.1
      {"a001 CAPABILITY\r\n", "command [a001] CAPABILITY\nend\n"},
      {"a002 NOOP\r\n", "command [a002] NOOP\nend\n"},
      {"A023 LOGOUT\r\n", "command [A023] LOGOUT\nend\n"},
      {"a002 STARTTLS\r\n", "command [a002] STARTTLS\nend\n"},
      // RFC 3501 §6.2.3, command names are case-insensitive
      {"a001 login SMITH SESAME\r\n", "command [a001] LOGIN atom:SMITH atom:SESAME\nend\n"},
      // quoted strings with \" and \\ escapes
      {"a1 LOGIN \"fred\" \"foo \\\"bar\\\" \\\\ baz\"\r\n",
       "command [a1] LOGIN str:\"fred\" str:\"foo \"bar\" \\\\ baz\"\nend\n"},
      {"a1 LOGIN \"\" \"\"\r\n", "command [a1] LOGIN str:\"\" str:\"\"\nend\n"},
      // RFC 3501 §7.5: synchronising literals
      {"A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n",
       "continue\ncontinue\ncommand [A001] LOGIN str:\"FRED FOOBAR\" str:\"fat man\"\nend\n"},
      // literal bytes are data: CR LF, quotes, braces inside
      {"a1 LOGIN {4}\r\n\"{\r\n {2}\r\n)(\r\n",
       "continue\ncontinue\ncommand [a1] LOGIN str:\"\"{\\r\\n\" str:\")(\"\nend\n"},
      {"a1 LOGIN {0}\r\n {0}\r\n\r\n",
       "continue\ncontinue\ncommand [a1] LOGIN str:\"\" str:\"\"\nend\n"},
      // RFC 7888 LITERAL+: no continuation
      {"a1 LOGIN {3+}\r\nbob {6+}\r\nsecret\r\n",
       "command [a1] LOGIN str:\"bob\" str:\"secret\"\nend\n"},
      {"a1 LOGIN {3+}\r\nbob \"pw\"\r\n", "command [a1] LOGIN str:\"bob\" str:\"pw\"\nend\n"},
      // RFC 4959 SASL-IR, "=" for an empty initial response
      {"a1 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
       "command [a1] AUTHENTICATE atom:PLAIN atom:dGVzdAB0ZXN0AHRlc3Q=\nend\n"},
      {"a1 AUTHENTICATE PLAIN =\r\n", "command [a1] AUTHENTICATE atom:PLAIN atom:=\nend\n"},
      {"a1 AUTHENTICATE XOAUTH2 dXNlcj1+/w==\r\n",
       "command [a1] AUTHENTICATE atom:XOAUTH2 atom:dXNlcj1+/w==\nend\n"},
      {"a1 authenticate plain\r\n", "command [a1] AUTHENTICATE atom:plain\nend\n"},
      // RFC 2971 §4 ID examples
      {"a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music "
       "Limited\")\r\n",
       "command [a023] ID (str:\"name\" str:\"sodr\" str:\"version\" str:\"19.34\" str:\"vendor\" "
       "str:\"Pink Floyd Music Limited\")\nend\n"},
      {"a1 ID NIL\r\n", "command [a1] ID nil:NIL\nend\n"},
      {"a1 ID nil\r\n", "command [a1] ID nil:nil\nend\n"},
      {"a1 ID (\"name\" NIL \"os\" {5+}\r\nLinux)\r\n",
       "command [a1] ID (str:\"name\" nil:NIL str:\"os\" str:\"Linux\")\nend\n"},
      {"a1 ID ()\r\n", "command [a1] ID ()\nend\n"},
      {"a1 X (a (b (c)) \"d\") e\r\n",
       "command [a1] X (atom:a (atom:b (atom:c)) str:\"d\") atom:e\nend\n"},
      // "]", "%", "*" are astring / list-mailbox chars
      {"a1 LIST \"\" *\r\n", "command [a1] LIST str:\"\" atom:*\nend\n"},
      {"a]1 X a]b %\r\n", "command [a]1] X atom:a]b atom:%\nend\n"},
      // 8-bit bytes are kept inside quoted strings (RFC 9051 / RFC 6855)
      {"a1 LOGIN \"j\xc3\xbcrgen\" pw\r\n",
       "command [a1] LOGIN str:\"j\\xc3\\xbcrgen\" atom:pw\nend\n"},
      // leniencies (as nginx): runs of spaces, trailing spaces, bare LF
      {"a1  LOGIN  a   b  \r\n", "command [a1] LOGIN atom:a atom:b\nend\n"},
      {"a1 NOOP\n", "command [a1] NOOP\nend\n"},
      {"a1 ID ( \"a\"  \"b\" )\n", "command [a1] ID (str:\"a\" str:\"b\")\nend\n"},
      // pipelining: two commands in one buffer
      {"a1 NOOP\r\na2 CAPABILITY\r\n", "command [a1] NOOP\ncommand [a2] CAPABILITY\nend\n"},
      // an incomplete command waits
      {"a1 LOGIN \"fr", "end\n"},
      {"a1 LOGIN {5}\r\nab", "continue\nend\n"},
  };
  for (const Case& c : cases) {
    INFO(escape(c.input));
    CHECK(run(c.input) == c.expected);
    check_chunking(c.input);
  }
}

TEST_CASE("malformed IMAP commands are skipped to the end of their line", "[parser]") {
  const std::vector<Case> cases = {
      {"\r\n", "invalid empty command line [] \nend\n"},
      {"\n", "invalid empty command line [] \nend\n"},
      {"a1\r\n", "invalid missing command name [a1] \nend\n"},
      {"a1 \r\n", "invalid missing command name [a1] \nend\n"},
      {"* LOGIN a b\r\n", "invalid invalid tag [] \nend\n"},
      {"+ x\r\n", "invalid invalid tag [] \nend\n"},
      {"a+1 NOOP\r\n", "invalid invalid tag [] \nend\n"},
      {" a1 NOOP\r\n", "invalid invalid tag [] \nend\n"},
      {"a1 NO(OP\r\n", "invalid invalid command name [a1] \nend\n"},
      {"a1 LOGIN \"unterminated\r\n", "invalid unterminated quoted string [a1] LOGIN\nend\n"},
      {"a1 LOGIN \"a\\x\" b\r\n", "invalid invalid escape in a quoted string [a1] LOGIN\nend\n"},
      {"a1 LOGIN \"a\0b\" c\r\n"s, "invalid NUL in a quoted string [a1] LOGIN\nend\n"},
      {"a1 LOGIN {3}\r\na\0b c\r\n"s, "continue\ninvalid NUL in a literal [a1] LOGIN\nend\n"},
      {"a1 LOGIN {3+}\r\na\0b {2+}\r\n"s,
       "too_long invalid command with a non-synchronising literal [a1] LOGIN\n"},
      // 8-bit bytes are not atom chars
      {"a1 LOGIN j\xc3\xbcrgen pw\r\n",
       "invalid 8-bit character outside a string [a1] LOGIN\nend\n"},
      {"a1 LOGIN \x01 pw\r\n", "invalid unexpected character [a1] LOGIN\nend\n"},
      {"a1 LOGIN a\"b c\r\n", "invalid unexpected character [a1] LOGIN\nend\n"},
      {"a1 LOGIN a\\b c\r\n", "invalid unexpected character [a1] LOGIN\nend\n"},
      {"a1 LOGIN \"a\"\"b\"\r\n", "invalid missing space between arguments [a1] LOGIN\nend\n"},
      // unbalanced parentheses
      {"a1 ID (\"a\" \"b\"\r\n", "invalid unbalanced parentheses [a1] ID\nend\n"},
      {"a1 ID \"a\")\r\n", "invalid unbalanced parentheses [a1] ID\nend\n"},
      {"a1 ID a)\r\n", "invalid unbalanced parentheses [a1] ID\nend\n"},
      {"a1 ID )\r\n", "invalid unbalanced parentheses [a1] ID\nend\n"},
      // malformed literal announcements
      {"a1 LOGIN {3x}\r\n", "invalid invalid literal [a1] LOGIN\nend\n"},
      {"a1 LOGIN {}\r\n", "invalid invalid literal [a1] LOGIN\nend\n"},
      {"a1 LOGIN {3+x}\r\n", "invalid invalid literal [a1] LOGIN\nend\n"},
      {"a1 LOGIN {3} \r\n", "invalid literal not at the end of a line [a1] LOGIN\nend\n"},
      {"a1 LOGIN {3}\rx\n", "invalid CR without LF [a1] LOGIN\nend\n"},
      {"a1 LOGIN x{3}\r\n", "invalid unexpected character [a1] LOGIN\nend\n"},
      // a bare CR
      {"a1 NOOP\rX\r\na2 NOOP\r\n", "invalid CR without LF [a1] NOOP\ncommand [a2] NOOP\nend\n"},
      // the parser goes on after an invalid line
      {"bad\x01 x\r\na2 NOOP\r\n", "invalid invalid tag [] \ncommand [a2] NOOP\nend\n"},
      // a synchronising literal on a bad line is not honoured: its "data" is
      // the next command (the client waits for "+", gets BAD instead)
      {"a1 LOGIN \x80 {5}\r\na2 NOOP\r\n",
       "invalid 8-bit character outside a string [a1] LOGIN\ncommand [a2] NOOP\nend\n"},
      // a non-synchronising one cannot be skipped: close (as nginx 1.21+)
      {"a1 LOGIN \x80 {5+}\r\nhello\r\n",
       "too_long invalid command with a non-synchronising literal [a1] LOGIN\n"},
      {"a1 LOGIN x{5+}\r\nhello\r\n",
       "too_long invalid command with a non-synchronising literal [a1] LOGIN\n"},
      {"a1 LOGIN \x80 {5+}x\r\na2 NOOP\r\n",
       "invalid 8-bit character outside a string [a1] LOGIN\ncommand [a2] NOOP\nend\n"},
  };
  for (const Case& c : cases) {
    INFO(escape(c.input));
    CHECK(run(c.input) == c.expected);
    check_chunking(c.input);
  }
}

TEST_CASE("IMAP command limits", "[parser]") {
  SECTION("line length counts CR LF, not literal data") {
    CommandParser::Limits limits;
    limits.max_line = 16;
    const std::string at_limit = "a1 LOGIN aaaaa\r\n";  // 16 bytes
    REQUIRE(at_limit.size() == 16);
    CHECK(run(at_limit, limits) == "command [a1] LOGIN atom:aaaaa\nend\n");
    CHECK(run("a1 LOGIN aaaaaa\r\n", limits) == "too_long line too long [a1] LOGIN\n");
    CHECK(run("a1 LOGIN aaaaaa\n", limits) == "command [a1] LOGIN atom:aaaaaa\nend\n");
    CHECK(run("a1 LOGIN {20+}\r\n01234567890123456789 b\r\n", limits) ==
          "command [a1] LOGIN str:\"01234567890123456789\" atom:b\nend\n");
    // a line being skipped is still limited
    CHECK(run("a1 \x01 aaaaaaaaaaaaaaaaaaaa\r\n", limits) == "too_long line too long [a1] \n");
    for (const std::string& input :
         {at_limit, "a1 LOGIN aaaaaa\r\n"s, "a1 \x01 aaaaaaaaaaaaaaaaaaa\r\n"s}) {
      check_chunking(input, limits);
    }
  }
  SECTION("the default line limit is 8192 bytes") {
    const std::string ok = "a1 X " + std::string(8192 - 7, 'a') + "\r\n";
    REQUIRE(ok.size() == 8192);
    CHECK(run(ok).rfind("command [a1] X atom:aaa", 0) == 0);
    CHECK(run("a1 X " + std::string(8192 - 6, 'a') + "\r\n") == "too_long line too long [a1] X\n");
  }
  SECTION("tag of 32 chars") {
    const std::string tag32(32, 't');
    CHECK(run(tag32 + " NOOP\r\n") == "command [" + tag32 + "] NOOP\nend\n");
    CHECK(run(tag32 + "t NOOP\r\n") == "too_long tag too long [] \n");
  }
  SECTION("literal size") {
    CHECK(run("a1 LOGIN {65536}\r\n") == "continue\nend\n");
    CHECK(run("a1 LOGIN {65537}\r\n") == "too_long literal too big [a1] LOGIN\n");
    CHECK(run("a1 LOGIN {65537+}\r\n") == "too_long literal too big [a1] LOGIN\n");
    CHECK(run("a1 LOGIN {99999999999999999999999999}\r\n") ==
          "too_long literal too big [a1] LOGIN\n");
    CHECK(run("a1 LOGIN {0000000000000000000000012+}\r\n") == "end\n");
    CommandParser::Limits limits;
    limits.max_literal = 9;
    CHECK(run("a1 X {9}\r\n", limits) == "continue\nend\n");
    CHECK(run("a1 X {10}\r\n", limits) == "too_long literal too big [a1] X\n");
    check_chunking("a1 X {10}\r\n", limits);
    limits.max_literal = 0;
    CHECK(run("a1 X {0}\r\n\r\n", limits) == "continue\ncommand [a1] X str:\"\"\nend\n");
    CHECK(run("a1 X {1}\r\n", limits) == "too_long literal too big [a1] X\n");
  }
  SECTION("the whole command, literals included") {
    CommandParser::Limits limits;
    limits.max_command = 42;
    CHECK(run("a1 X {10+}\r\n0123456789 {10+}\r\n0123456789\r\n", limits) ==
          "command [a1] X str:\"0123456789\" str:\"0123456789\"\nend\n");
    CHECK(run("a1 X {10+}\r\n0123456789 {11+}\r\n01234567890\r\n", limits) ==
          "too_long command too long [a1] X\n");
    CHECK(run("a1 X {10+}\r\n0123456789 {13+}\r\n", limits) ==
          "too_long command too long [a1] X\n");
    CHECK(run("a1 X {10+}\r\n0123456789 {10+}\r\n0123456789 \r\n", limits) ==
          "too_long command too long [a1] X\n");
  }
  SECTION("argument count") {
    std::string args;
    std::string expected;
    for (int i = 0; i < 32; ++i) {
      args += " a";
      expected += " atom:a";
    }
    CHECK(run("a1 X" + args + "\r\n") == "command [a1] X" + expected + "\nend\n");
    CHECK(run("a1 X" + args + " a\r\n") == "too_long too many arguments [a1] X\n");
    CHECK(run("a1 X" + args + " \"a\"\r\n") == "too_long too many arguments [a1] X\n");
  }
  SECTION("list elements: ID's 30 pairs fit, 65 elements do not") {
    std::string pairs;
    for (int i = 0; i < 30; ++i) {
      pairs += (i == 0 ? "" : " ") + ("\"f" + std::to_string(i) + R"(" "v")");
    }
    CHECK(run("a1 ID (" + pairs + ")\r\n").rfind("command [a1] ID (str:\"f0\"", 0) == 0);
    std::string items(64 * 2 - 1, ' ');
    for (std::size_t i = 0; i < items.size(); i += 2) {
      items[i] = 'x';
    }
    CHECK(run("a1 X (" + items + ")\r\n").rfind("command [a1] X (atom:x", 0) == 0);
    CHECK(run("a1 X (" + items + " x)\r\n") == "too_long too many list elements [a1] X\n");
    CHECK(run("a1 X (() () ()) (" + items.substr(6) + ")\r\n").rfind("command", 0) == 0);
  }
  SECTION("list depth") {
    CHECK(run("a1 X ((((a))))\r\n") == "command [a1] X ((((atom:a))))\nend\n");
    CHECK(run("a1 X (((((a)))))\r\n") == "too_long lists nested too deeply [a1] X\n");
  }
  SECTION("too_long is final until reset()") {
    CommandParser parser;
    const std::string input = "a1 LOGIN {70000}\r\n";
    const CommandParser::Step step = feed_all(parser, input);
    CHECK(step.status == CommandParser::Status::too_long);
    CHECK(step.consumed == input.find('}'));
    CHECK(step.reason == "literal too big");
    CHECK(parser.take().tag == "a1");
    const CommandParser::Step again = parser.feed("a2 NOOP\r\n");
    CHECK(again.status == CommandParser::Status::too_long);
    CHECK(again.consumed == 0);
    parser.reset();
    CHECK(parser.feed("a2 NOOP\r\n").status == CommandParser::Status::command_ready);
  }
}

TEST_CASE("IMAP commands report consumed precisely (pipelining, STARTTLS)", "[parser]") {
  SECTION("STARTTLS followed by an injected command in the same packet") {
    // CVE-2011-0411 class: the caller must see where STARTTLS ends, so it can
    // drop the rest before the TLS handshake.
    CommandParser parser;
    const std::string packet = "a1 STARTTLS\r\na2 LOGIN x y\r\n";
    const CommandParser::Step step = parser.feed(packet);
    CHECK(step.status == CommandParser::Status::command_ready);
    CHECK(step.consumed == 13);
    CHECK(parser.take() == Command{"a1", "STARTTLS", {}});
    CHECK(parser.idle());
  }
  SECTION("a ready command blocks until take()") {
    CommandParser parser;
    REQUIRE(parser.feed("a1 NOOP\r\na2 NOOP\r\n").consumed == 9);
    const CommandParser::Step step = parser.feed("a2 NOOP\r\n");
    CHECK(step.status == CommandParser::Status::command_ready);
    CHECK(step.consumed == 0);
    CHECK(parser.take().tag == "a1");
    CHECK(parser.feed("a2 NOOP\r\n").consumed == 9);
    CHECK(parser.take().tag == "a2");
  }
  SECTION("need_continuation stops right after the literal header") {
    CommandParser parser;
    const std::string input = "a1 LOGIN {3}\r\nbob {2}\r\npw\r\na2 NOOP\r\n";
    CommandParser::Step step = parser.feed(input);
    CHECK(step.status == CommandParser::Status::need_continuation);
    CHECK(step.consumed == 14);
    step = parser.feed(std::string_view(input).substr(14));
    CHECK(step.status == CommandParser::Status::need_continuation);
    CHECK(step.consumed == 9);
    step = parser.feed(std::string_view(input).substr(23));
    CHECK(step.status == CommandParser::Status::command_ready);
    CHECK(step.consumed == 4);
    const Command command = parser.take();
    CHECK(command.args.size() == 2);
    CHECK(command.args[1].value == "pw");
  }
  SECTION("invalid consumes exactly its line") {
    CommandParser parser;
    const CommandParser::Step step = parser.feed("a1 \"x\r\na2 NOOP\r\n");
    CHECK(step.status == CommandParser::Status::invalid);
    CHECK(step.consumed == 7);
  }
}

TEST_CASE("quote_imap gives quoted strings or literals that parse back", "[parser]") {
  CHECK(quote_imap("fred") == "\"fred\"");
  CHECK(quote_imap("") == "\"\"");
  CHECK(quote_imap("NIL") == "\"NIL\"");
  CHECK(quote_imap("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(quote_imap("a\r\nb") == "{4}\r\na\r\nb");
  CHECK(quote_imap("j\xc3\xbcrgen") == "{7}\r\nj\xc3\xbcrgen");
  CHECK(quote_imap("j\xc3\xbcrgen", true) == "{7+}\r\nj\xc3\xbcrgen");
  CHECK(quote_imap(std::string(1024, 'x')) == "\"" + std::string(1024, 'x') + "\"");
  CHECK(quote_imap(std::string(1025, 'x')) == "{1025}\r\n" + std::string(1025, 'x'));

  const std::vector<std::string> values = {
      "",
      "fred",
      "NIL",
      "nil",
      "a b",
      "a\"b",
      "a\\b",
      "\\\"",
      "a\r\nb",
      "\r",
      "\n",
      "{5}",
      "{5+}\r\n",
      "j\xc3\xbcrgen",
      "\x7f\x01",
      "()",
      "%*]",
      "   ",
      std::string(1024, '"'),
      std::string(2000, 'y'),
  };
  for (const std::string& user : values) {
    for (const bool plus : {false, true}) {
      INFO(escape(user) << " literal+ " << plus);
      const std::string line =
          "a1 LOGIN " + quote_imap(user, plus) + " " + quote_imap("pw", plus) + "\r\n";
      CommandParser parser;
      std::string_view rest = line;
      CommandParser::Step step;
      do {
        step = parser.feed(rest);
        rest.remove_prefix(step.consumed);
      } while (step.status == CommandParser::Status::need_continuation);
      REQUIRE(step.status == CommandParser::Status::command_ready);
      CHECK(rest.empty());
      const Command command = parser.take();
      REQUIRE(command.args.size() == 2);
      CHECK(command.args[0].kind == Arg::Kind::string);
      CHECK(command.args[0].value == user);
      CHECK(command.args[1].value == "pw");
    }
  }
}

TEST_CASE("parse(format_command(c)) == c", "[parser]") {
  const std::vector<std::string> inputs = {
      "a1 NOOP\r\n",
      "a1 LOGIN fred \"pass word\"\r\n",
      "a1 LOGIN {7+}\r\nj\xc3\xbcrgen {4+}\r\na\r\nb\r\n",
      "a1 ID (\"name\" NIL \"version\" \"1.0\" x nil)\r\n",
      "a1 X (a (b (c ()))) \"\" NIL\r\n",
      "a1 AUTHENTICATE PLAIN =\r\n",
  };
  for (const std::string& input : inputs) {
    for (const bool plus : {false, true}) {
      INFO(escape(input) << " literal+ " << plus);
      CommandParser parser;
      std::string_view rest = input;
      CommandParser::Step step;
      do {
        step = parser.feed(rest);
        rest.remove_prefix(step.consumed);
      } while (step.status == CommandParser::Status::need_continuation);
      REQUIRE(step.status == CommandParser::Status::command_ready);
      const Command original = parser.take();
      const std::string wire = format_command(original, plus);
      CommandParser again;
      rest = wire;
      do {
        step = again.feed(rest);
        rest.remove_prefix(step.consumed);
      } while (step.status == CommandParser::Status::need_continuation);
      REQUIRE(step.status == CommandParser::Status::command_ready);
      CHECK(again.take() == original);
      CHECK(rest.empty());
    }
  }
  // An atom that is not a valid atom goes as a string.
  Command odd{"t", "X", {Arg{Arg::Kind::atom, "a b", {}}, Arg{Arg::Kind::atom, "NIL", {}}}};
  CHECK(format_command(odd) == "t X \"a b\" \"NIL\"\r\n");
}

TEST_CASE("id_fields reads ID parameter lists (RFC 2971)", "[parser]") {
  const auto parse_one = [](const std::string& input) {
    CommandParser parser;
    const CommandParser::Step step = parser.feed(input);
    REQUIRE(step.status == CommandParser::Status::command_ready);
    Command c = parser.take();
    REQUIRE(c.args.size() == 1);
    return c.args[0];
  };
  const auto fields =
      id_fields(parse_one("a1 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"os\" NIL)\r\n"));
  REQUIRE(fields.has_value());
  const std::vector<IdField> expected = {
      {"name", "sodr"}, {"version", "19.34"}, {"os", std::nullopt}};
  CHECK(*fields == expected);
  CHECK(format_id_fields(*fields) == "(\"name\" \"sodr\" \"version\" \"19.34\" \"os\" NIL)");
  CHECK(id_fields(parse_one("a1 ID " + format_id_fields(*fields) + "\r\n")) == fields);

  CHECK(id_fields(parse_one("a1 ID NIL\r\n")) == std::vector<IdField>{});
  CHECK(format_id_fields({}) == "NIL");
  CHECK(id_fields(parse_one("a1 ID ()\r\n")) == std::vector<IdField>{});
  CHECK(id_fields(parse_one("a1 ID (name sodr)\r\n")) == std::vector<IdField>{{"name", "sodr"}});
  CHECK_FALSE(id_fields(parse_one("a1 ID (\"name\")\r\n")));
  CHECK_FALSE(id_fields(parse_one("a1 ID (NIL \"x\")\r\n")));
  CHECK_FALSE(id_fields(parse_one("a1 ID (\"\" \"x\")\r\n")));
  CHECK_FALSE(id_fields(parse_one("a1 ID (\"name\" (\"x\"))\r\n")));
  CHECK_FALSE(id_fields(parse_one("a1 ID \"name\"\r\n")));
  CHECK(id_fields(parse_one("a1 ID (\"" + std::string(30, 'n') + "\" \"v\")\r\n")));
  CHECK_FALSE(id_fields(parse_one("a1 ID (\"" + std::string(31, 'n') + "\" \"v\")\r\n")));
  CHECK(id_fields(parse_one("a1 ID (\"n\" {1024+}\r\n" + std::string(1024, 'v') + ")\r\n")));
  CHECK_FALSE(id_fields(parse_one("a1 ID (\"n\" {1025+}\r\n" + std::string(1025, 'v') + ")\r\n")));
  std::string pairs;
  for (int i = 0; i < 31; ++i) {
    pairs += " \"f" + std::to_string(i) + R"(" "v")";
  }
  CHECK_FALSE(id_fields(parse_one("a1 ID (" + pairs.substr(1) + ")\r\n")));
  const std::string thirty = pairs.substr(1, pairs.rfind(" \"f30\"") - 1);
  const auto many = id_fields(parse_one("a1 ID (" + thirty + ")\r\n"));
  REQUIRE(many.has_value());
  CHECK(many->size() == 30);
}

TEST_CASE("astring_value reads atoms, strings and NIL alike", "[parser]") {
  CHECK(astring_value(Arg{Arg::Kind::atom, "fred", {}}) == "fred");
  CHECK(astring_value(Arg{Arg::Kind::string, "", {}}) == "");
  CHECK(astring_value(Arg{Arg::Kind::nil, "nil", {}}) == "nil");
  CHECK_FALSE(astring_value(Arg{Arg::Kind::list, "", {}}));
}

TEST_CASE("IMAP command parser: chunking invariance on mixed streams", "[parser]") {
  const std::vector<std::string> streams = {
      "a1 CAPABILITY\r\na2 ID (\"name\" \"x\" \"v\" {3+}\r\n1.0)\r\na3 LOGIN {3}\r\nbob "
      "{4}\r\npass\r\n",
      "a1 STARTTLS\r\na2 LOGIN x y\r\n\r\n\n* BAD\r\nz9 noop\n",
      "a1 LOGIN \x80 {5}\r\na2 NOOP\r\na3 LOGIN \"x\\\"y\" {0+}\r\n\r\n",
      "a1 AUTHENTICATE PLAIN\r\na2 X ((a) (b (c))) NIL \"\" {2+}\r\n\r\n\r\n",
      "a1 X \"a\0\" {1+}\r\n\0 b\r\na2 LOGIN \"\xff\" {1+}\r\n\xff\r\n"s,
      "a1 LOGIN \x80 {5+}\r\nhello\r\na2 NOOP\r\n",
  };
  for (const std::string& s : streams) {
    INFO(escape(s));
    check_chunking(s);
  }
  CommandParser::Limits small;
  small.max_line = 12;
  small.max_tag = 3;
  small.max_literal = 4;
  small.max_args = 2;
  small.max_list_items = 3;
  small.max_list_depth = 2;
  small.max_command = 30;
  for (const std::string& s : streams) {
    INFO(escape(s));
    check_chunking(s, small);
  }
}

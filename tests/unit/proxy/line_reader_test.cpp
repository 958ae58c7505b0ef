#include "lib/proxy/mail/line_reader.hpp"

#include "tests/fuzz/parser_transcripts.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using zmproxy::proxy::mail::LineReader;
using zmproxy::testing::chunking_mismatch;
using zmproxy::testing::escape;
using zmproxy::testing::line_transcript;
using namespace std::string_literals;

namespace {

void check_chunking(std::string_view input, std::size_t max_line) {
  const auto mismatch = chunking_mismatch(
      [&](std::string_view in, const std::vector<std::size_t>& cuts) {
        return line_transcript(in, cuts, max_line);
      },
      input);
  INFO(mismatch.value_or(""));
  CHECK_FALSE(mismatch.has_value());
}

}  // namespace

TEST_CASE("LineReader reads CRLF and bare LF lines", "[parser]") {
  struct Case {
    std::string input;
    std::size_t max_line;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"dGVzdA==\r\n", 8192, "line@10 dGVzdA==\nend@10\n"},
      {"dGVzdA==\n", 8192, "line@9 dGVzdA==\nend@9\n"},
      {"*\r\n", 8192, "line@3 *\nend@3\n"},
      {"\r\n", 8192, "line@2 \nend@2\n"},
      {"\n\n", 8192, "line@1 \nline@2 \nend@2\n"},
      // a CR that does not end the line is data
      {"a\rb\r\r\n", 8192, "line@6 a\\rb\\r\nend@6\n"},
      // NUL and 8-bit bytes pass through
      {"a\0\xff\r\n"s, 8192, "line@5 a\\x00\\xff\nend@5\n"},
      // pipelining: the second line stays for the next feed
      {"one\r\ntwo\r\nthr", 8192, "line@5 one\nline@10 two\nend@13\n"},
      // the limit counts CR LF: 8 bytes in all
      {"123456\r\n", 8, "line@8 123456\nend@8\n"},
      {"1234567\n", 8, "line@8 1234567\nend@8\n"},
      {"1234567\r\n", 8, "too_long@8 \n"},
      {"12345678", 8, "too_long@8 \n"},
      {"1234567", 8, "end@7\n"},
      {"ab\r\n123456789\r\n", 8, "line@4 ab\ntoo_long@12 \n"},
      {"\n", 1, "line@1 \nend@1\n"},
      {"a\n", 1, "too_long@1 \n"},
  };
  for (const Case& c : cases) {
    INFO(escape(c.input) << " max " << c.max_line);
    CHECK(line_transcript(c.input, {}, c.max_line) == c.expected);
    check_chunking(c.input, c.max_line);
  }
}

TEST_CASE("LineReader: take, ready and too_long states", "[parser]") {
  LineReader reader(16);
  CHECK(reader.take().empty());
  LineReader::Step step = reader.feed("abc");
  CHECK(step.status == LineReader::Status::need_more);
  CHECK(step.consumed == 3);
  CHECK(reader.buffered() == 3);
  step = reader.feed("def\r\nrest");
  CHECK(step.status == LineReader::Status::line_ready);
  CHECK(step.consumed == 5);
  // While a line waits, nothing more is read.
  step = reader.feed("rest");
  CHECK(step.status == LineReader::Status::line_ready);
  CHECK(step.consumed == 0);
  CHECK(reader.take() == "abcdef");
  CHECK(reader.take().empty());

  step = reader.feed(std::string(20, 'x'));
  CHECK(step.status == LineReader::Status::too_long);
  CHECK(step.consumed == 16);
  step = reader.feed("ok\r\n");
  CHECK(step.status == LineReader::Status::too_long);
  CHECK(step.consumed == 0);
  reader.reset();
  step = reader.feed("ok\r\n");
  CHECK(step.status == LineReader::Status::line_ready);
  CHECK(reader.take() == "ok");
  CHECK(reader.max_line() == 16);
}

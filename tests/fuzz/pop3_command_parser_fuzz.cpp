// libFuzzer target: pop3::CommandParser. Chunking invariance with default and
// small limits, and parse(format_command(name, rest)) == the command.
#include "lib/proxy/pop3/command_parser.hpp"

#include "tests/fuzz/fuzz_check.hpp"

namespace {

void check_round_trip(std::string_view input) {
  using zmproxy::proxy::pop3::CommandParser;
  using zmproxy::testing::escape;
  using zmproxy::testing::fuzz_failure;
  CommandParser parser;
  std::string_view rest = input;
  while (!rest.empty()) {
    const CommandParser::Step step = parser.feed(rest);
    rest.remove_prefix(step.consumed);
    if (step.status == CommandParser::Status::need_more ||
        step.status == CommandParser::Status::too_long) {
      return;
    }
    if (step.status != CommandParser::Status::command_ready) {
      continue;
    }
    const zmproxy::proxy::pop3::Command original = parser.take();
    const auto line = zmproxy::proxy::pop3::format_command(original.name, original.rest, 8192);
    if (!line) {
      // Only a trailing space after the keyword ("QUIT \r\n") is lost, and
      // arguments with a CR are refused by the parser already.
      continue;
    }
    CommandParser again;
    const CommandParser::Step back = again.feed(*line);
    const zmproxy::proxy::pop3::Command copy = again.take();
    if (back.status != CommandParser::Status::command_ready || back.consumed != line->size() ||
        !(copy == original)) {
      fuzz_failure("round trip failed for \"" + escape(input) + "\"");
    }
  }
}

}  // namespace

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  using namespace zmproxy::testing;
  const std::string_view input = as_text(data, size);
  zmproxy::proxy::pop3::CommandParser::Limits small;
  small.max_line = 12;
  small.max_auth_line = 24;
  for (const auto& limits : {zmproxy::proxy::pop3::CommandParser::Limits{}, small}) {
    check_chunking_invariance(
        [&limits](std::string_view in, const std::vector<std::size_t>& cuts) {
          return pop3_command_transcript(in, cuts, limits);
        },
        input);
  }
  check_round_trip(input);
  return 0;
}

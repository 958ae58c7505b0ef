// libFuzzer target: imap::CommandParser. Chunking invariance with default and
// small limits, and parse(format_command(c)) == c for every command parsed.
#include "lib/proxy/imap/command_parser.hpp"

#include "tests/fuzz/fuzz_check.hpp"

namespace {

using zmproxy::proxy::imap::Command;
using zmproxy::proxy::imap::CommandParser;

// Feeds a whole buffer through need_continuation steps.
CommandParser::Step feed_through(CommandParser& parser, std::string_view& rest) {
  CommandParser::Step step;
  do {
    step = parser.feed(rest);
    rest.remove_prefix(step.consumed);
  } while (step.status == CommandParser::Status::need_continuation && !rest.empty());
  return step;
}

void check_round_trip(std::string_view input) {
  using zmproxy::testing::escape;
  using zmproxy::testing::fuzz_failure;
  using zmproxy::testing::render;
  CommandParser parser;
  std::string_view rest = input;
  while (!rest.empty()) {
    const CommandParser::Step step = feed_through(parser, rest);
    if (step.status == CommandParser::Status::too_long ||
        step.status == CommandParser::Status::need_more ||
        step.status == CommandParser::Status::need_continuation) {
      return;
    }
    const Command original = parser.take();
    if (step.status != CommandParser::Status::command_ready) {
      continue;
    }
    if (original.tag.empty() || original.tag.size() > 32 || original.name.empty()) {
      fuzz_failure("bad command from \"" + escape(input) + "\": " + render(original));
    }
    for (const bool plus : {false, true}) {
      const std::string wire = zmproxy::proxy::imap::format_command(original, plus);
      // Quoting may lengthen lines (a literal becomes a quoted string): the
      // re-parse checks the inverse, not the limits.
      CommandParser::Limits roomy;
      roomy.max_line = std::size_t{1} << 20;
      roomy.max_command = std::size_t{1} << 22;
      CommandParser again(roomy);
      std::string_view wire_rest = wire;
      const CommandParser::Step back = feed_through(again, wire_rest);
      if (back.status != CommandParser::Status::command_ready || !wire_rest.empty() ||
          !(again.take() == original)) {
        fuzz_failure("round trip failed for \"" + escape(input) + "\" via \"" + escape(wire) +
                     "\"");
      }
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
  CommandParser::Limits small;
  small.max_line = 40;
  small.max_tag = 4;
  small.max_literal = 16;
  small.max_args = 4;
  small.max_list_items = 6;
  small.max_list_depth = 2;
  small.max_command = 96;
  for (const CommandParser::Limits& limits : {CommandParser::Limits{}, small}) {
    check_chunking_invariance(
        [&limits](std::string_view in, const std::vector<std::size_t>& cuts) {
          return imap_command_transcript(in, cuts, limits);
        },
        input);
  }
  check_round_trip(input);
  return 0;
}

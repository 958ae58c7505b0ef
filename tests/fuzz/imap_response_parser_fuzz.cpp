// libFuzzer target: imap::ResponseParser. Chunking invariance, and the frames
// of the responses read are exactly the bytes consumed.
#include "lib/proxy/imap/response_parser.hpp"

#include "tests/fuzz/fuzz_check.hpp"

namespace {

void check_frames(std::string_view input) {
  using zmproxy::proxy::imap::ResponseParser;
  using zmproxy::testing::escape;
  using zmproxy::testing::fuzz_failure;
  ResponseParser parser;
  std::string_view rest = input;
  while (!rest.empty()) {
    const ResponseParser::Step step = parser.feed(rest);
    const std::string_view frame = rest.substr(0, step.consumed);
    rest.remove_prefix(step.consumed);
    if (step.status == ResponseParser::Status::need_more ||
        step.status == ResponseParser::Status::too_long) {
      return;
    }
    const zmproxy::proxy::imap::Response r = parser.take();
    if (r.raw != frame || r.raw.empty() || r.raw.back() != '\n') {
      fuzz_failure("raw differs from the consumed frame in \"" + escape(input) + "\"");
    }
    (void)zmproxy::proxy::imap::response_code(r.text);
  }
}

}  // namespace

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  using namespace zmproxy::testing;
  const std::string_view input = as_text(data, size);
  zmproxy::proxy::imap::ResponseParser::Limits small;
  small.max_response = 48;
  for (const auto& limits : {zmproxy::proxy::imap::ResponseParser::Limits{}, small}) {
    check_chunking_invariance(
        [&limits](std::string_view in, const std::vector<std::size_t>& cuts) {
          return imap_response_transcript(in, cuts, limits);
        },
        input);
  }
  check_frames(input);
  return 0;
}

// libFuzzer target: pop3::ResponseParser and greeting_offers(). Chunking
// invariance; raw is exactly the consumed line.
#include "lib/proxy/pop3/response_parser.hpp"

#include "tests/fuzz/fuzz_check.hpp"

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  using namespace zmproxy::testing;
  using zmproxy::proxy::pop3::ResponseParser;
  const std::string_view input = as_text(data, size);
  ResponseParser::Limits small;
  small.max_line = 16;
  for (const auto& limits : {ResponseParser::Limits{}, small}) {
    check_chunking_invariance(
        [&limits](std::string_view in, const std::vector<std::size_t>& cuts) {
          return pop3_response_transcript(in, cuts, limits);
        },
        input);
  }
  ResponseParser parser;
  std::string_view rest = input;
  while (!rest.empty()) {
    const ResponseParser::Step step = parser.feed(rest);
    const std::string_view frame = rest.substr(0, step.consumed);
    rest.remove_prefix(step.consumed);
    if (step.status == ResponseParser::Status::need_more ||
        step.status == ResponseParser::Status::too_long) {
      break;
    }
    const zmproxy::proxy::pop3::Response r = parser.take();
    if (r.raw != frame) {
      fuzz_failure("raw differs from the consumed line in \"" + escape(input) + "\"");
    }
    (void)zmproxy::proxy::pop3::greeting_offers(r.raw, "XCLIENT");
    (void)zmproxy::proxy::pop3::response_code(r.text);
  }
  return 0;
}

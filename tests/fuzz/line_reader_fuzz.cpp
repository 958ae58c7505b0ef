// libFuzzer target: mail::LineReader. Chunking invariance at two limits.
#include "tests/fuzz/fuzz_check.hpp"

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  using namespace zmproxy::testing;
  const std::string_view input = as_text(data, size);
  for (const std::size_t max_line : {std::size_t{16}, std::size_t{8192}}) {
    check_chunking_invariance(
        [max_line](std::string_view in, const std::vector<std::size_t>& cuts) {
          return line_transcript(in, cuts, max_line);
        },
        input);
  }
  return 0;
}

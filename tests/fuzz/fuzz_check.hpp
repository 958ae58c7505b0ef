#pragma once
// Shared by the mail parsers' fuzz targets: the chunking-invariance check,
// which aborts on a mismatch so that libFuzzer (and the GCC corpus replay)
// reports it.

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/parser_transcripts.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::testing {

// Whole vs split at data-derived offsets vs byte by byte (short inputs).
inline void check_chunking_invariance(const Transcript& transcript, std::string_view input) {
  std::vector<std::vector<std::size_t>> variants;
  variants.push_back(data_derived_cuts(input));
  variants.push_back({input.size() / 2});
  if (input.size() <= 2048) {
    std::vector<std::size_t> every_byte;
    for (std::size_t i = 1; i < input.size(); ++i) {
      every_byte.push_back(i);
    }
    variants.push_back(every_byte);
  }
  if (const auto mismatch = first_mismatch(transcript, input, variants)) {
    fuzz_failure(*mismatch);
  }
  // The driver writes protocol violations as "!..." lines.
  const std::string whole = transcript(input, {});
  if (whole.find("\n!") != std::string::npos || whole.rfind('!', 0) == 0) {
    fuzz_failure("parser contract violated on \"" + escape(input) + "\":\n" + whole);
  }
}

}  // namespace zmproxy::testing

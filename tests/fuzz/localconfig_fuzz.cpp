// libFuzzer target: conf/localconfig.toml as LocalConfig::load reads it
// (localconfig/localconfig.cpp: toml++, then the key and value rules), fed
// through a memfd so that nothing touches the disk. Checks: every key of a
// loaded file expands (or refuses a loop) and reads as an integer without
// crashing, and what serialize() writes loads back to the same values.
#include <unistd.h>

#include "lib/localconfig/localconfig.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <string>
#include <sys/mman.h>

namespace {

using zmproxy::localconfig::LocalConfig;
using zmproxy::testing::fuzz_expect;
using zmproxy::testing::fuzz_failure;

// The file: one memfd, rewritten for each input, opened by its /proc name.
std::string write_file(std::string_view text) {
  static const int fd = ::memfd_create("localconfig.toml", MFD_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    fuzz_failure("memfd for localconfig.toml failed");
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  const std::string_view input = zmproxy::testing::as_text(data, size);
  const auto lc = LocalConfig::load(write_file(input), "/opt/zmproxy");
  if (!lc) {
    return 0;
  }
  const std::vector<std::string> keys = lc->keys();
  for (const std::string& key : keys) {
    (void)lc->expanded(key);
    (void)lc->integer(key, -1);
  }
  const std::string text = lc->serialize();
  const auto back = LocalConfig::load(write_file(text), "/opt/zmproxy");
  fuzz_expect(back.has_value(), "serialize() wrote a file that does not load", input);
  fuzz_expect(back->keys() == keys, "serialize() changed the keys", input);
  for (const std::string& key : keys) {
    fuzz_expect(back->get(key) == lc->get(key) && back->is_set(key) == lc->is_set(key),
                "serialize() changed " + key, input);
  }
  return 0;
}

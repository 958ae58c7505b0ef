// libFuzzer target: conf/zmproxy.conf as zmproxyd reads it
// (config/proxy_config.cpp: toml++, the key tables of config_keys.cpp and
// the cross-checks). Checks: parsing is deterministic, and a refusal is one
// line naming the file (the project's rule for every user-facing failure).
// The kerberos check may open a keytab path the input names (read-only,
// non-blocking, never read); no name is resolved (no resolver is given).
#include "lib/config/proxy_config.hpp"

#include "tests/fuzz/fuzz_support.hpp"

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  using zmproxy::testing::fuzz_expect;
  const std::string_view input = zmproxy::testing::as_text(data, size);
  const auto config = zmproxy::config::parse_config(input, "/fuzz/zmproxy.conf", "/fuzz/home");
  const auto again = zmproxy::config::parse_config(input, "/fuzz/zmproxy.conf", "/fuzz/home");
  fuzz_expect(config.has_value() == again.has_value(), "parse_config is not deterministic", input);
  if (config) {
    fuzz_expect((*config)->version == (*again)->version, "the version is not deterministic", input);
    (void)zmproxy::config::certauth_listener((*config)->http);
    return 0;
  }
  const std::string& message = config.error().message;
  fuzz_expect(message == again.error().message, "the error is not deterministic", input);
  fuzz_expect(message.rfind("/fuzz/zmproxy.conf", 0) == 0,
              "an error not naming the file: " + message, input);
  fuzz_expect(message.find_first_of("\r\n") == std::string::npos,
              "an error of more than one line: " + zmproxy::testing::escape(message), input);
  return 0;
}

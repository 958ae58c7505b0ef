// libFuzzer target: net::parse_proxy_header. Incremental over a growing
// prefix: need_more never comes after invalid or complete, complete comes at
// exactly the header's length and says the same thing on every longer input,
// need_more is bounded (107 bytes for version 1, 4096 for version 2), and a
// parsed client address written back as a version 2 header parses to itself.
#include "lib/net/proxy_header.hpp"

#include "tests/fuzz/fuzz_check.hpp"

namespace {

bool same(const zmproxy::net::ProxyHeader& a, const zmproxy::net::ProxyHeader& b) {
  return a.status == b.status && a.version == b.version && a.length == b.length &&
         a.source == b.source && a.client == b.client;
}

}  // namespace

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  using namespace zmproxy::net;
  using zmproxy::testing::escape;
  using zmproxy::testing::fuzz_failure;
  const std::string_view input =
      zmproxy::testing::as_text(data, std::min(size, k_proxy_header_max + 64));

  const ProxyHeader whole = parse_proxy_header(input);
  ProxyParse before = ProxyParse::need_more;
  for (std::size_t n = 0; n <= input.size(); ++n) {
    const ProxyHeader p = parse_proxy_header(input.substr(0, n));
    const std::string where = " at " + std::to_string(n) + " bytes of \"" + escape(input) + "\"";
    if (before != ProxyParse::need_more && p.status != before) {
      fuzz_failure("the verdict changed after it was given" + where);
    }
    if (p.status == ProxyParse::need_more &&
        n >= (p.version == 1 ? k_proxy_v1_max : k_proxy_header_max)) {
      fuzz_failure("need_more past the bound" + where);
    }
    if (p.status == ProxyParse::complete) {
      if (p.length != n && before != ProxyParse::complete) {
        fuzz_failure("complete before the header's end" + where);
      }
      if (!same(p, whole)) {
        fuzz_failure("a longer input changed the header" + where);
      }
      if (p.length > k_proxy_header_max || (p.version == 1 && p.length > k_proxy_v1_max)) {
        fuzz_failure("a header over its bound" + where);
      }
    }
    if (p.status == ProxyParse::invalid && p.reason.empty()) {
      fuzz_failure("invalid without a reason" + where);
    }
    before = p.status;
  }
  if (whole.status == ProxyParse::complete && whole.source == ProxySource::proxied) {
    const ProxyHeader back = parse_proxy_header(proxy_v2_header(whole.client, whole.client));
    if (back.status != ProxyParse::complete || !(back.client == whole.client)) {
      fuzz_failure("proxy_v2_header does not parse back for \"" + escape(input) + "\"");
    }
  }
  return 0;
}

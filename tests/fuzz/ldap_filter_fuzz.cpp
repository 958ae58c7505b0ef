// libFuzzer target: RFC 4515 filters (provisioning/filter.cpp), which zmprov
// sd/sa and the embedded store read from their callers. Checks: a parsed
// filter prints (to_string) to text that parses back to it and prints the
// same; matching never crashes; any value escaped with escape_filter_value
// inside (cn=...) parses back to exactly that value.
#include "lib/provisioning/filter.hpp"

#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace zmproxy::provisioning;
using zmproxy::testing::fuzz_expect;

const Entry& sample_entry() {
  static const Entry e = [] {
    Entry x;
    x.dn = "uid=user1,ou=people,dc=example,dc=com";
    x.attrs["objectClass"] = {"zimbraAccount", "inetOrgPerson"};
    x.attrs["uid"] = {"user1"};
    x.attrs["mail"] = {"user1@example.com", "alias@example.com"};
    x.attrs["zimbraMailHost"] = {"mbox1.example.com"};
    x.attrs["zimbraMailQuota"] = {"1048576"};
    x.attrs["cn"] = {"User *One* (test)"};
    return x;
  }();
  return e;
}

}  // namespace

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  const std::string_view input = zmproxy::testing::as_text(data, size);
  if (const auto f = parse_filter(input)) {
    (void)matches(*f, sample_entry());
    const std::string text = to_string(*f);
    const auto again = parse_filter(text);
    fuzz_expect(again.has_value(), "to_string wrote a filter parse_filter refuses: " + text, input);
    fuzz_expect(*again == *f, "a filter does not round-trip through " + text, input);
    fuzz_expect(to_string(*again) == text, "to_string is not stable", input);
    fuzz_expect(matches(*again, sample_entry()) == matches(*f, sample_entry()),
                "a filter matches differently once printed", input);
  }
  if (!input.empty() && input.size() < 4096) {
    const auto value = parse_filter("(cn=" + escape_filter_value(input) + ")");
    fuzz_expect(value.has_value(), "an escaped value does not parse", input);
    fuzz_expect(value->kind == Filter::Kind::equal && value->attr == "cn" && value->value == input,
                "an escaped value reads back as another filter", input);
  }
  return 0;
}

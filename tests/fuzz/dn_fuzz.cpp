// libFuzzer target: distinguished names (provisioning/dn.cpp), which zmprov
// and the stores read from their callers and from LDIF. Checks: normalize_dn
// is idempotent and keeps the number of RDNs; a DN is under itself and under its parent; an escaped
// value is one RDN whatever its bytes, and stays one after normalizing; a domain's DN has a dc= RDN
// per label. Also the certauth subject DN (route/subject_dn.cpp, read from a lookup's Auth-User):
// what it reads, written back in RFC 4514 form with every value escaped, reads the same.
#include "lib/provisioning/dn.hpp"
#include "lib/route/subject_dn.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <algorithm>

namespace {

// RFC 4514 escaping of a whole value: specials and every byte outside
// printable ASCII as \XX.
std::string escape_rfc4514(std::string_view v) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f ||
        std::string_view(",+\"\\<>;=#/").find(c) != std::string_view::npos) {
      out += '\\';
      out += k_hex[u >> 4];
      out += k_hex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

bool plain_type(std::string_view t) {
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
  });
}

}  // namespace

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  using namespace zmproxy::provisioning;
  using zmproxy::testing::fuzz_expect;
  const std::string_view input = zmproxy::testing::as_text(data, size);

  const std::string normal = normalize_dn(input);
  fuzz_expect(normalize_dn(normal) == normal, "normalize_dn is not idempotent", input);
  fuzz_expect(dn_is_under(input, input), "a DN is not under itself", input);
  const std::vector<std::string> rdns = split_dn(input);
  fuzz_expect(split_dn(normal).size() == rdns.size(), "normalize_dn changed the number of RDNs",
              input);
  const std::string parent = parent_dn(input);
  // (An empty RDN, as in " ," or "a,,b", is no DN; its parent may not split.)
  const bool no_empty_rdn =
      std::none_of(rdns.begin(), rdns.end(), [](const std::string& r) { return r.empty(); });
  if (rdns.size() > 1 && no_empty_rdn) {
    fuzz_expect(split_dn(parent).size() == rdns.size() - 1, "parent_dn dropped more than one RDN",
                input);
    fuzz_expect(dn_is_under(input, parent), "a DN is not under its parent", input);
  } else if (rdns.size() <= 1) {
    fuzz_expect(parent.empty(), "a one-RDN DN has a parent", input);
  }

  const std::string rdn = "cn=" + escape_dn_value(input);
  fuzz_expect(split_dn(rdn).size() == 1, "an escaped value splits into RDNs", input);
  fuzz_expect(split_dn(normalize_dn(rdn)).size() == 1, "an escaped value splits once normalized",
              input);
  const std::string under = rdn + ",dc=example,dc=com";
  fuzz_expect(split_dn(under).size() == 3, "an escaped value splits its DN", input);
  fuzz_expect(dn_is_under(under, "dc=example,dc=com"), "an escaped value leaves its base", input);
  fuzz_expect(parent_dn(under) == "dc=example,dc=com", "an escaped value changes the parent",
              input);

  const std::string domain = domain_to_dn(input);
  if (!input.empty()) {
    fuzz_expect(split_dn(domain).size() ==
                    static_cast<std::size_t>(std::count(input.begin(), input.end(), '.')) + 1,
                "domain_to_dn made another number of RDNs", input);
  }

  if (const auto subject = zmproxy::route::parse_subject_dn(input)) {
    fuzz_expect(!subject->empty(), "an empty subject DN accepted", input);
    std::string written;
    bool plain = true;
    for (const auto& a : *subject) {
      fuzz_expect(!a.type.empty(), "a subject attribute without a type", input);
      plain = plain && plain_type(a.type);
      written += (written.empty() ? "" : ",") + a.type + "=" + escape_rfc4514(a.value);
    }
    if (plain) {
      const auto back = zmproxy::route::parse_subject_dn(written);
      fuzz_expect(back.has_value() && back->size() == subject->size(),
                  "a subject DN written back does not read: " + written, input);
      for (std::size_t i = 0; i < back->size(); ++i) {
        fuzz_expect(
            (*back)[i].type == (*subject)[i].type && (*back)[i].value == (*subject)[i].value,
            "a subject DN does not round-trip through " + written, input);
      }
    }
  }
  return 0;
}

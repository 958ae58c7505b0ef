// libFuzzer target: LDIF (provisioning/ldif.cpp), the embedded store's file
// format, read from a file anyone with write access to the store can edit
// and from zmprov's input. Checks: what parse_ldif accepts, index_ldif
// accepts too and finds the same records (each parsing alone to the same
// entry), and what append_ldif writes for an accepted entry parses back to
// it.
#include "lib/provisioning/ldif.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <vector>

namespace {

using namespace zmproxy::provisioning;
using zmproxy::testing::fuzz_expect;

bool same_entry(const Entry& a, const Entry& b) {
  if (a.dn != b.dn || a.attrs.size() != b.attrs.size()) {
    return false;
  }
  for (const auto& [name, values] : a.attrs) {
    const Values* other = b.values(name);
    if (other == nullptr || *other != values) {
      return false;
    }
  }
  return true;
}

}  // namespace

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  const std::string_view input = zmproxy::testing::as_text(data, size);
  const auto entries = parse_ldif(input, "fuzz.ldif");

  struct Record {
    std::string dn;
    std::size_t offset;
    std::size_t length;
  };
  std::vector<Record> records;
  const auto indexed = index_ldif(
      input, "fuzz.ldif", [&](std::string_view dn, std::size_t offset, std::size_t length) {
        fuzz_expect(offset <= input.size() && length <= input.size() - offset,
                    "index_ldif gave a record outside the text", input);
        records.push_back({std::string(dn), offset, length});
      });
  for (const Record& r : records) {
    (void)ldif_line_at(input, r.offset);
  }
  if (!entries) {
    return 0;
  }
  fuzz_expect(indexed.has_value(), "index_ldif refuses what parse_ldif accepts", input);
  fuzz_expect(records.size() == entries->size(), "index_ldif and parse_ldif count differently",
              input);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    fuzz_expect(r.dn == (*entries)[i].dn, "index_ldif and parse_ldif read another dn", input);
    const auto one = parse_ldif_record(input.substr(r.offset, r.length), "fuzz.ldif",
                                       ldif_line_at(input, r.offset));
    fuzz_expect(one.has_value() && same_entry(*one, (*entries)[i]), "a record parsed alone differs",
                input);
  }
  std::string written;
  for (const Entry& e : *entries) {
    append_ldif(written, e);
  }
  const auto back = parse_ldif(written, "written.ldif");
  fuzz_expect(back.has_value(), "append_ldif wrote what parse_ldif refuses", input);
  fuzz_expect(back->size() == entries->size(), "append_ldif lost a record", input);
  for (std::size_t i = 0; i < back->size(); ++i) {
    fuzz_expect(same_entry((*back)[i], (*entries)[i]), "an entry does not round-trip", input);
  }
  return 0;
}

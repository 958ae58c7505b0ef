// libFuzzer target: confgen's template language (confgen/template.cpp) and
// its TOML spellings. The input is both a template (rendered against a fixed
// set of variables, and scanned by key_sources) and a variable's value, which
// comes from the directory (any admin-set attribute): a value spelled with
// toml_string or toml_array and rendered into `key = ${value}` must read back
// through toml++ as exactly that value and nothing else, so no attribute can
// add a key to zmproxy.conf.
#include "lib/confgen/template.hpp"
#include "lib/core/toml.hpp"
#include "lib/core/toml_guard.hpp"

#include "tests/fuzz/fuzz_support.hpp"

#include <optional>

namespace {

using namespace zmproxy::confgen;
using zmproxy::testing::fuzz_expect;

// The table toml++ reads from `text`, or nullopt when it refuses it.
std::optional<toml::table> parse_toml(std::string_view text) {
  try {
    return toml::parse(text, std::string_view("fuzz.toml"));
  } catch (const toml::parse_error&) {
    return std::nullopt;
  }
}

std::vector<std::string> split_at(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (true) {
    const auto at = s.find(sep);
    out.emplace_back(s.substr(0, at));
    if (at == std::string_view::npos) {
      return out;
    }
    s.remove_prefix(at + 1);
  }
}

}  // namespace

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  const std::string_view input = zmproxy::testing::as_text(data, size);
  Variables vars;
  vars["host"] = {toml_string("mail.example.com"), true, "server"};
  vars["off"] = {"FALSE", false, "default"};
  vars["value"] = {toml_string(input), true, "globalConfig"};
  vars["list"] = {toml_array(split_at(input, ',')), true, "globalConfig"};

  // The input as a template.
  const auto rendered = render(input, vars, "fuzz.template");
  if (rendered && input.find('$') == std::string_view::npos) {
    fuzz_expect(*rendered == input, "a template without $ changed", input);
  }
  (void)key_sources(input);
  if (rendered) {
    (void)key_sources(*rendered);
  }

  // The input as a value: one key, that value, or a refusal.
  const auto conf =
      render("[section]\nkey = ${value}\nlist = ${list}\nafter = ${host}\n", vars, "fuzz.template");
  fuzz_expect(conf.has_value(), "a value made rendering fail", input);
  // (toml++ 3.3 must not see non-ASCII outside strings: lib/core/toml_guard.hpp.)
  fuzz_expect(zmproxy::core::toml_unsafe_line(*conf) == 0, "a value's bytes are outside its string",
              input);
  if (const auto table = parse_toml(*conf)) {
    const toml::table* section = (*table)["section"].as_table();
    fuzz_expect(table->size() == 1 && section != nullptr && section->size() == 3,
                "a value added or removed a key", input);
    const auto value = (*section)["key"].value<std::string>();
    fuzz_expect(value.has_value() && *value == input, "a value did not read back", input);
    const toml::array* list = (*section)["list"].as_array();
    const std::vector<std::string> parts = split_at(input, ',');
    fuzz_expect(list != nullptr && list->size() == parts.size(), "a list did not read back", input);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      fuzz_expect((*list)[i].value<std::string>() == parts[i], "a list item did not read back",
                  input);
    }
    fuzz_expect((*section)["after"].value<std::string>() == "mail.example.com",
                "a value changed the next line", input);
  }
  const auto sources = key_sources("[section]\nkey = ${value}\n");
  fuzz_expect(sources.size() == 1 && sources.begin()->second == "value", "key_sources changed",
              input);
  return 0;
}

#include "lib/confgen/secret_variables.hpp"

#include "lib/localconfig/keys.hpp"
#include "lib/schema/registry.hpp"

namespace zmproxy::confgen {

bool is_secret_variable(std::string_view name) noexcept {
  const std::string_view attr = name.starts_with("global.") ? name.substr(7) : name;
  const schema::Attribute* a = schema::find(attr);
  return (a != nullptr && a->secret) || localconfig::is_secret_key(name);
}

Variables masked_variables(const Variables& vars) {
  Variables out = vars;
  for (auto& [name, v] : out) {
    if (!is_secret_variable(name) || v.text.empty() || v.text == "\"\"" || v.text == "[]") {
      continue;
    }
    const std::string mask(k_secret_mask);
    v.text = v.text.front() == '"' ? "\"" + mask + "\"" : v.text.front() == '[' ? "[\"" + mask + "\"]" : mask;
  }
  return out;
}

}  // namespace zmproxy::confgen

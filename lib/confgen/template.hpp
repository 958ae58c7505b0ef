#pragma once
// The template language of confgen (pure): `${name}` is replaced by the
// variable's text; `${enabler:name}` by "" when the variable is true and "#"
// when it is false (placed at the start of a line, it comments the line out,
// as Zimbra's enablers do); `$${` is a literal "${". An unknown name is an error naming the
// template line, never an empty string.

#include "lib/core/result.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::confgen {

struct Variable {
  std::string text;     // what ${name} becomes
  bool truthy = false;  // for ${enabler:name}
  std::string source;   // where it came from, for -D ("server", "globalConfig", "default",
                        // "localconfig", "derived")
};

using Variables = std::map<std::string, Variable, std::less<>>;

// Render `text`; `origin` names the template in errors ("zmproxy.conf.template").
Result<std::string> render(std::string_view text, const Variables& vars, std::string_view origin);

// For each rendered `key = ${variable}` line under a `[section]`: "section.key"
// -> variable, so an error about a configuration key can name the attribute.
std::map<std::string, std::string> key_sources(std::string_view text);

// TOML spellings of values.
std::string toml_string(std::string_view s);  // "quoted", escaped
std::string toml_array(const std::vector<std::string>& values);

}  // namespace zmproxy::confgen

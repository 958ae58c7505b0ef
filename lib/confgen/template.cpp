#include "lib/confgen/template.hpp"

#include "lib/core/strings.hpp"

#include <fmt/format.h>

namespace zmproxy::confgen {

std::string toml_string(std::string_view s) {
  return "\"" + core::toml_escape(s) + "\"";
}

std::string toml_array(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += (i ? ", " : "") + toml_string(values[i]);
  }
  return out + "]";
}

Result<std::string> render(std::string_view text, const Variables& vars, std::string_view origin) {
  std::string out;
  out.reserve(text.size() * 2);
  std::size_t line = 1;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '$' && text.substr(i, 3) == "$${") {  // a literal "${"
      out += "${";
      i += 3;
      continue;
    }
    if (c == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      const std::size_t close = text.find('}', i + 2);
      const std::size_t nl = text.find('\n', i);
      if (close == std::string_view::npos || (nl != std::string_view::npos && close > nl)) {
        return fail(
            Errc::parse_error,
            fmt::format("{}:{}: '${{' without a closing '}}' on the same line", origin, line));
      }
      std::string_view name = text.substr(i + 2, close - i - 2);
      bool enabler = false;
      if (name.starts_with("enabler:")) {
        enabler = true;
        name.remove_prefix(8);
      }
      const auto it = vars.find(name);
      if (it == vars.end()) {
        return fail(Errc::parse_error,
                    fmt::format("{}:{}: unknown variable ${{{}}}; `zmproxyctl genconf -D` lists "
                                "the variables",
                                origin, line, name));
      }
      out += enabler ? (it->second.truthy ? "" : "#") : it->second.text;
      i = close + 1;
      continue;
    }
    if (c == '\n') {
      ++line;
    }
    out += c;
    ++i;
  }
  return out;
}

std::map<std::string, std::string> key_sources(std::string_view text) {
  std::map<std::string, std::string> out;
  std::string section;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '#')) {
      line.remove_prefix(1);
    }
    if (line.starts_with("[") && line.find(']') != std::string_view::npos) {
      section = std::string(line.substr(1, line.find(']') - 1));
      continue;
    }
    const auto eq = line.find(" = ");
    const auto var = line.find("${");
    if (eq == std::string_view::npos || var == std::string_view::npos || var < eq) {
      continue;
    }
    const auto close = line.find('}', var);
    if (close == std::string_view::npos) {
      continue;
    }
    out[section + "." + std::string(line.substr(0, eq))] =
        std::string(line.substr(var + 2, close - var - 2));
  }
  return out;
}

}  // namespace zmproxy::confgen

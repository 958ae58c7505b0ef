#include "lib/localconfig/localconfig.hpp"

#include "lib/core/atomic_file.hpp"
#include "lib/core/strings.hpp"
#include "lib/core/toml.hpp"
#include "lib/core/toml_guard.hpp"
#include "lib/localconfig/keys.hpp"

#include <charconv>
#include <set>
#include <sstream>

namespace zmproxy::localconfig {

namespace {

std::string toml_quote(std::string_view s) {
  return "\"" + core::toml_escape(s) + "\"";
}

bool is_integer(std::string_view v) {
  long long n = 0;
  const char* end = v.data() + v.size();
  auto [p, ec] = std::from_chars(v.data(), end, n);
  return !v.empty() && ec == std::errc() && p == end;
}

constexpr std::size_t k_most_expanded = 64 * 1024;

Result<std::string> expand_text(const LocalConfig& lc,
                                std::string_view text,
                                std::set<std::string>& active,
                                std::string_view key) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto start = text.find("${", i);
    if (start == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    const auto close = text.find('}', start + 2);
    if (close == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, start - i));
    const std::string ref(text.substr(start + 2, close - start - 2));
    const auto value = lc.get(ref);
    if (!value) {
      out.append(text.substr(start, close - start + 1));  // unknown: leave as written
    } else {
      if (active.count(ref) != 0) {
        return fail(Errc::invalid_argument,
                    "localconfig key " + std::string(key) + ": ${" + ref +
                        "} refers back to itself; fix one of the values with zmlocalconfig -e");
      }
      active.insert(ref);
      auto inner = expand_text(lc, *value, active, key);
      active.erase(ref);
      if (!inner) {
        return inner;
      }
      out += *inner;
      if (out.size() > k_most_expanded) {
        // References that double at each level (${b}${b}, ...) would
        // otherwise grow without bound: refused at the first level past it.
        return fail(Errc::invalid_argument,
                    "localconfig key " + std::string(key) + " expands to more than " +
                        std::to_string(k_most_expanded) +
                        " bytes; fix the ${...} references with zmlocalconfig -e");
      }
    }
    i = close + 1;
  }
  return out;
}

}  // namespace

Result<LocalConfig> LocalConfig::load(const std::filesystem::path& file,
                                      const std::filesystem::path& home) {
  LocalConfig lc;
  lc.m_file = file;
  lc.m_home = home.string();
  auto text = core::read_file(file);
  if (!text) {
    if (text.error().code == Errc::not_found) {
      return lc;
    }
    return tl::unexpected(text.error());
  }
  if (const std::size_t line = core::toml_unsafe_line(*text)) {
    return fail(Errc::parse_error,
                file.string() + ":" + std::to_string(line) +
                    ": a non-ASCII character outside a quoted string; quote the value or run "
                    "zmlocalconfig -e to rewrite the key");
  }
  toml::table table;
  try {
    table = toml::parse(*text, file.string());
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return fail(Errc::parse_error,
                file.string() + ":" + std::to_string(where.line) + ":" +
                    std::to_string(where.column) + ": " + core::one_line_text(e.description()) +
                    "; fix that line or run zmlocalconfig -e to rewrite the key");
  }
  for (const auto& [k, node] : table) {
    const std::string key(k.str());
    const auto line = node.source().begin.line;
    const std::string at = file.string() + ":" + std::to_string(line) + ": ";
    if (!is_valid_key_name(key)) {
      return fail(Errc::parse_error,
                  at + "key '" + key + "' is not a valid name (letters, digits, _ and -)");
    }
    if (const auto* s = node.as_string()) {
      lc.m_values[key] = s->get();
    } else if (const auto* i = node.as_integer()) {
      lc.m_values[key] = std::to_string(i->get());
    } else if (const auto* b = node.as_boolean()) {
      lc.m_values[key] = b->get() ? "true" : "false";
    } else if (const auto* f = node.as_floating_point()) {
      std::ostringstream ss;
      ss << f->get();
      lc.m_values[key] = ss.str();
    } else {
      return fail(Errc::parse_error, at + "key '" + key +
                                         "' must be a plain value such as \"text\", a number or "
                                         "true/false, not a table or array");
    }
  }
  return lc;
}

std::optional<std::string> LocalConfig::default_value(std::string_view key) const {
  if (key == "zimbra_home") {
    return m_home;
  }
  if (const KeyInfo* k = find_key(key)) {
    return std::string(k->default_value);
  }
  return std::nullopt;
}

std::optional<std::string> LocalConfig::get(std::string_view key) const {
  if (const auto it = m_values.find(key); it != m_values.end()) {
    return it->second;
  }
  return default_value(key);
}

Result<std::string> LocalConfig::expanded(std::string_view key) const {
  const auto value = get(key);
  if (!value) {
    return fail(Errc::not_found, "localconfig key " + std::string(key) + " is not set");
  }
  std::set<std::string> active{std::string(key)};
  return expand_text(*this, *value, active, key);
}

std::string LocalConfig::value_or_empty(std::string_view key) const {
  auto v = expanded(key);
  return v ? *v : std::string();
}

long long LocalConfig::integer(std::string_view key, long long fallback) const {
  const std::string v = value_or_empty(key);
  long long n = 0;
  const char* end = v.data() + v.size();
  auto [p, ec] = std::from_chars(v.data(), end, n);
  return (v.empty() || ec != std::errc() || p != end) ? fallback : n;
}

Result<void> LocalConfig::set(std::string_view key, std::string_view value) {
  if (!is_valid_key_name(key)) {
    return fail(Errc::invalid_argument,
                "key name '" + std::string(key) + "' is invalid; use letters, digits, _ and -");
  }
  if (const KeyInfo* k = find_key(key)) {
    if (k->type == KeyType::integer && !is_integer(value)) {
      return fail(Errc::invalid_argument,
                  "key " + std::string(key) + ": '" + std::string(value) + "' is not an integer");
    }
    if (k->type == KeyType::boolean && value != "true" && value != "false") {
      return fail(Errc::invalid_argument, "key " + std::string(key) + ": '" + std::string(value) +
                                              "' is not a boolean; use true or false");
    }
  }
  for (char c : value) {
    if (c == '\n' || c == '\r' || c == '\0') {
      return fail(Errc::invalid_argument,
                  "key " + std::string(key) + ": values are one line; remove the line break");
    }
  }
  m_values[std::string(key)] = std::string(value);
  return {};
}

Result<void> LocalConfig::unset(std::string_view key) {
  const auto it = m_values.find(key);
  if (it == m_values.end()) {
    return fail(Errc::not_found, "key " + std::string(key) + " is not set");
  }
  m_values.erase(it);
  return {};
}

std::vector<std::string> LocalConfig::keys() const {
  std::set<std::string> all;
  for (const KeyInfo& k : known_keys()) {
    all.emplace(k.name);
  }
  for (const auto& [k, v] : m_values) {
    all.insert(k);
  }
  return {all.begin(), all.end()};
}

std::string LocalConfig::serialize() const {
  std::string out =
      "# zmproxy local configuration: settings of this machine only.\n"
      "# Change it with `zmlocalconfig -e key=value` (or edit by hand: one key = \"value\" a "
      "line).\n"
      "# Keys not listed here have their defaults; `zmlocalconfig -d` shows them.\n\n";
  for (const auto& [k, v] : m_values) {
    out += k;
    out += " = ";
    out += toml_quote(v);
    out += '\n';
  }
  return out;
}

Result<void> LocalConfig::save() const {
  std::error_code ec;
  std::filesystem::create_directories(m_file.parent_path(), ec);
  if (ec) {
    return fail(Errc::io_error,
                "cannot create " + m_file.parent_path().string() + ": " + ec.message());
  }
  return core::write_file_atomic(m_file, serialize(), 0640);
}

}  // namespace zmproxy::localconfig

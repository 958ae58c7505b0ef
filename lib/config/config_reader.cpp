#include "lib/config/config_reader.hpp"

#include "lib/core/duration.hpp"
#include "lib/core/toml_guard.hpp"

namespace zmproxy::config {

bool Reader::fail_at(const toml::node& n, const std::string& key, const std::string& what) {
  // One line even when the file spelled a key or value with escapes ("a\nb" = 1):
  // found by tests/fuzz/zmproxy_conf_fuzz.cpp (corpus/zmproxy_conf/quoted_key_newline).
  if (m_error.empty()) {
    m_error = m_file + ":" + std::to_string(n.source().begin.line) + ": " +
              core::one_line_text(key) + ": " + core::one_line_text(what);
  }
  return false;
}

bool Reader::read(const toml::node& n, const std::string& key, bool& out) {
  if (auto v = n.value<bool>()) {
    out = *v;
    return true;
  }
  return fail_at(n, key, "expected true or false");
}

bool Reader::read(const toml::node& n, const std::string& key, int& out) {
  if (auto v = n.value<std::int64_t>(); v && *v >= 0 && *v <= 1'000'000) {
    out = static_cast<int>(*v);
    return true;
  }
  return fail_at(n, key, "expected a whole number");
}

bool Reader::read(const toml::node& n, const std::string& key, std::string& out) {
  if (auto v = n.value<std::string>()) {
    out = *v;
    return true;
  }
  return fail_at(n, key, "expected a string");
}

bool Reader::read(const toml::node& n, const std::string& key, std::vector<std::string>& out) {
  const toml::array* a = n.as_array();
  if (a == nullptr) {
    return fail_at(n, key, "expected an array of strings");
  }
  out.clear();
  bool ok = true;
  for (const auto& item : *a) {
    if (auto v = item.value<std::string>()) {
      out.push_back(*v);
    } else {
      ok = fail_at(item, key, "expected an array of strings");
    }
  }
  return ok;
}

bool Reader::read(const toml::node& n, const std::string& key, std::chrono::milliseconds& out) {
  std::optional<std::chrono::milliseconds> d;
  if (auto s = n.value<std::string>()) {
    d = core::parse_duration(*s);
  } else if (auto i = n.value<std::int64_t>(); i && *i >= 0) {
    d = std::chrono::milliseconds(*i * 1000);
  }
  if (!d) {
    return fail_at(n, key, "expected a duration such as \"10s\", \"1500ms\" or \"1h\"");
  }
  out = *d;
  return true;
}

bool Reader::read_count(const toml::node& n, const std::string& key, std::int64_t& out,
                        const char* what) {
  if (auto v = n.value<std::int64_t>(); v && *v >= 0) {
    out = *v;
    return true;
  }
  return fail_at(n, key, what);
}

}  // namespace zmproxy::config

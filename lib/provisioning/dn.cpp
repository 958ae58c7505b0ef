#include "lib/provisioning/dn.hpp"

#include "lib/core/strings.hpp"

namespace zmproxy::provisioning {

namespace {

// core::trim, except that a trailing blank escaped with '\' stays ("cn=a\ "
// ends in a space: RFC 4514 escapes a value's trailing space so).
// Found by tests/fuzz/dn_fuzz.cpp (corpus/dn/escaped_trailing_space): with
// core::trim, "cn=a\ ,dc=com" lost the space and kept the backslash, and
// normalizing it gave "cn=a\,dc=com", one RDN fewer.
bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim_unescaped(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_blank(s.back())) {
    std::size_t backslashes = 0;
    for (std::size_t i = s.size() - 1; i > 0 && s[i - 1] == '\\'; --i) {
      ++backslashes;
    }
    if (backslashes % 2 == 1) {
      break;  // escaped: part of the value
    }
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string escape_dn_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const bool special = c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' ||
                         c == ';' || c == '=';
    const bool edge = (i == 0 && (c == '#' || c == ' ')) || (i + 1 == value.size() && c == ' ');
    if (c == '\0') {
      out += "\\00";
    } else if (special || edge) {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::string> split_dn(std::string_view dn) {
  std::vector<std::string> rdns;
  std::string cur;
  for (std::size_t i = 0; i < dn.size(); ++i) {
    const char c = dn[i];
    if (c == '\\' && i + 1 < dn.size()) {
      cur += c;
      cur += dn[++i];
    } else if (c == ',') {
      rdns.emplace_back(trim_unescaped(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trim_unescaped(cur).empty() || !rdns.empty()) {
    rdns.emplace_back(trim_unescaped(cur));
  }
  return rdns;
}

std::string normalize_dn(std::string_view dn) {
  std::string out;
  bool first = true;
  for (const std::string& rdn : split_dn(dn)) {
    // (Not out.empty(): an empty first RDN, as in ",a,b", keeps its comma.)
    if (!first) {
      out += ',';
    }
    first = false;
    const auto eq = rdn.find('=');
    if (eq == std::string::npos) {
      out += core::to_lower(trim_unescaped(rdn));
      continue;
    }
    out += core::to_lower(trim_unescaped(std::string_view(rdn).substr(0, eq)));
    out += '=';
    out += core::to_lower(trim_unescaped(std::string_view(rdn).substr(eq + 1)));
  }
  return out;
}

std::string parent_dn(std::string_view dn) {
  const auto rdns = split_dn(dn);
  if (rdns.size() <= 1) {
    return {};
  }
  std::string out;
  for (std::size_t i = 1; i < rdns.size(); ++i) {
    if (i > 1) {
      out += ',';
    }
    out += rdns[i];
  }
  return out;
}

bool dn_is_under(std::string_view dn, std::string_view base) {
  const std::string d = normalize_dn(dn);
  const std::string b = normalize_dn(base);
  if (b.empty()) {
    return true;
  }
  if (d == b) {
    return true;
  }
  return d.size() > b.size() && d.compare(d.size() - b.size(), b.size(), b) == 0 &&
         d[d.size() - b.size() - 1] == ',';
}

std::string domain_to_dn(std::string_view domain) {
  std::string out;
  for (const std::string& label : core::split(domain, '.')) {
    if (!out.empty()) {
      out += ',';
    }
    out += "dc=" + escape_dn_value(label);
  }
  return out;
}

}  // namespace zmproxy::provisioning

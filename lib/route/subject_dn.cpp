#include "lib/route/subject_dn.hpp"

#include "lib/core/strings.hpp"

namespace zmproxy::route {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

// The legacy form: "/type=value/type=value...".
Result<std::vector<DnAttribute>> parse_slashed(std::string_view dn) {
  std::vector<DnAttribute> out;
  dn.remove_prefix(1);
  for (const std::string& part : core::split(dn, '/')) {
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) {
      if (out.empty()) {
        return fail(Errc::invalid_argument, "a part of the subject has no '='");
      }
      out.back().value.append("/").append(part);  // a '/' inside the previous value
      continue;
    }
    const std::string_view type = core::trim(std::string_view(part).substr(0, eq));
    if (type.empty()) {
      return fail(Errc::invalid_argument, "a part of the subject has no attribute type");
    }
    out.push_back(DnAttribute{std::string(type), part.substr(eq + 1)});
  }
  return out;
}

// RFC 4514 (and RFC 1779's quotes and spaces).
Result<std::vector<DnAttribute>> parse_rfc4514(std::string_view dn) {
  std::vector<DnAttribute> out;
  std::size_t i = 0;
  const std::size_t n = dn.size();
  auto skip_spaces = [&] {
    while (i < n && dn[i] == ' ')
      ++i;
  };
  while (true) {
    skip_spaces();
    const std::size_t type_start = i;
    while (i < n && dn[i] != '=' && dn[i] != ',' && dn[i] != ';' && dn[i] != '+')
      ++i;
    if (i >= n || dn[i] != '=') {
      return fail(Errc::invalid_argument, "a part of the subject has no '='");
    }
    const std::string_view type = core::trim(dn.substr(type_start, i - type_start));
    if (type.empty()) {
      return fail(Errc::invalid_argument, "a part of the subject has no attribute type");
    }
    ++i;  // '='
    skip_spaces();
    std::string value;
    if (i < n && dn[i] == '"') {
      ++i;
      while (i < n && dn[i] != '"') {
        if (dn[i] == '\\' && i + 1 < n)
          ++i;
        value.push_back(dn[i++]);
      }
      if (i >= n) {
        return fail(Errc::invalid_argument, "a quoted value of the subject is not closed");
      }
      ++i;  // '"'
      skip_spaces();
    } else {
      std::size_t kept = 0;  // value's length up to its last escaped or non-space byte
      while (i < n && dn[i] != ',' && dn[i] != ';' && dn[i] != '+') {
        if (dn[i] == '\\') {
          if (i + 1 >= n) {
            return fail(Errc::invalid_argument, "the subject ends in a lone '\\'");
          }
          const int hi = hex_value(dn[i + 1]);
          const int lo = i + 2 < n ? hex_value(dn[i + 2]) : -1;
          if (hi >= 0 && lo >= 0) {
            value.push_back(static_cast<char>(hi * 16 + lo));
            i += 3;
          } else {
            value.push_back(dn[i + 1]);
            i += 2;
          }
          kept = value.size();
          continue;
        }
        value.push_back(dn[i++]);
        if (value.back() != ' ')
          kept = value.size();
      }
      value.resize(kept);  // trailing unescaped spaces
    }
    out.push_back(DnAttribute{std::string(type), std::move(value)});
    if (i >= n) {
      return out;
    }
    if (dn[i] != ',' && dn[i] != ';' && dn[i] != '+') {
      return fail(Errc::invalid_argument, "unexpected text after a quoted value of the subject");
    }
    ++i;
  }
}

}  // namespace

Result<std::vector<DnAttribute>> parse_subject_dn(std::string_view dn) {
  while (!dn.empty() && dn.front() == ' ') {
    dn.remove_prefix(1);  // trailing spaces: the value's own rule (an escaped one stays)
  }
  if (core::trim(dn).empty()) {
    return fail(Errc::invalid_argument, "the subject is empty");
  }
  return dn.front() == '/' ? parse_slashed(dn) : parse_rfc4514(dn);
}

bool is_email_attribute(std::string_view type) noexcept {
  return core::iequals(type, "emailAddress") || core::iequals(type, "E") ||
         type == "1.2.840.113549.1.9.1";
}

}  // namespace zmproxy::route

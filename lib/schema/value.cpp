#include "lib/schema/value.hpp"

#include "lib/core/duration.hpp"
#include "lib/core/strings.hpp"

#include <charconv>
#include <limits>

namespace zmproxy::schema {

namespace {

std::string quoted(std::string_view v) {
  // Show at most 64 characters of a rejected value, never a control byte.
  std::string out = "'";
  for (std::size_t i = 0; i < v.size() && i < 64; ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  if (v.size() > 64) {
    out += "...";
  }
  out += "'";
  return out;
}

tl::unexpected<Error> reject(const Attribute& a, std::string_view v, std::string_view why) {
  return fail(Errc::invalid_argument,
              std::string(a.name) + ": " + quoted(v) + " " + std::string(why));
}

std::optional<std::int64_t> parse_int(std::string_view v) {
  std::int64_t n = 0;
  const char* end = v.data() + v.size();
  auto [p, ec] = std::from_chars(v.data(), end, n);
  if (ec != std::errc() || p != end || v.empty()) {
    return std::nullopt;
  }
  return n;
}

std::string range_text(const Attribute& a) {
  const std::string lo = a.has_min ? std::to_string(a.min) : "";
  const std::string hi = a.has_max ? std::to_string(a.max) : "";
  if (!a.has_min && !a.has_max) {
    return "";
  }
  return lo + ".." + hi;
}

bool has_control(std::string_view v) {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return true;
    }
  }
  return false;
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_uuid(std::string_view v) {
  if (v.size() != 36) {
    return false;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? v[i] != '-' : !is_hex(v[i])) {
      return false;
    }
  }
  return true;
}

bool is_base64(std::string_view v) {
  if (v.size() % 4 != 0) {
    return false;
  }
  std::size_t pad = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '=') {
      ++pad;
      continue;
    }
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/';
    if (!ok || pad != 0) {
      return false;
    }
  }
  return pad <= 2;
}

bool is_email(std::string_view v) {
  const auto at = v.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= v.size() ||
      v.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  for (char c : v) {
    if (c == ' ' || c == ',' || c == '<' || c == '>' || c == '(' || c == ')' || c == '"') {
      return false;
    }
  }
  return true;
}

}  // namespace

bool is_true(std::string_view value) noexcept {
  return core::iequals(value, "TRUE") || value == "1" || core::iequals(value, "yes") ||
         core::iequals(value, "on");
}

std::string accepted_values(const Attribute& a) {
  switch (a.type) {
    case Type::boolean:
      return "TRUE or FALSE";
    case Type::integer:
    case Type::long_integer: {
      const std::string r = range_text(a);
      return r.empty() ? "an integer" : "an integer in " + r;
    }
    case Type::port:
      return "a port 0..65535";
    case Type::duration:
      return "a duration: digits with an optional unit ms, s, m, h or d (e.g. 10s, 1h)";
    case Type::enumeration: {
      std::string out = "one of ";
      for (std::size_t i = 0; i < a.values.size(); ++i) {
        out += (i == 0 ? "" : ", ");
        out += a.values[i];
      }
      return out;
    }
    case Type::string:
    case Type::astring: {
      std::string out = a.type == Type::astring ? "ASCII text" : "text";
      if (a.maxlen != 0) {
        out += " of at most " + std::to_string(a.maxlen) + " characters";
      }
      return out;
    }
    case Type::email:
      return "an address user@domain";
    case Type::pem:
      return "PEM text (the whole -----BEGIN ...----- file)";
    case Type::id:
      return "a UUID such as 3f2a9c4e-1b7d-4c1e-9a2b-0c1d2e3f4a5b";
    case Type::binary:
      return "base64 text";
  }
  return "";
}

Result<std::string> normalize_value(const Attribute& a, std::string_view v) {
  if (a.type != Type::binary && a.type != Type::pem && has_control(v)) {
    return reject(a, v, "contains a control character (line break or tab); values are one line");
  }
  switch (a.type) {
    case Type::boolean:
      if (core::iequals(v, "TRUE")) {
        return std::string("TRUE");
      }
      if (core::iequals(v, "FALSE")) {
        return std::string("FALSE");
      }
      return reject(a, v, "is not a boolean; use TRUE or FALSE");
    case Type::integer:
    case Type::long_integer: {
      const auto n = parse_int(v);
      const bool int32 = a.type == Type::integer;
      if (!n || (int32 && (*n < std::numeric_limits<std::int32_t>::min() ||
                           *n > std::numeric_limits<std::int32_t>::max()))) {
        return reject(a, v, "is not " + accepted_values(a));
      }
      if ((a.has_min && *n < a.min) || (a.has_max && *n > a.max)) {
        return reject(a, v, "is out of range; valid values are " + range_text(a));
      }
      return std::to_string(*n);
    }
    case Type::port: {
      const auto n = parse_int(v);
      if (!n) {
        return reject(a, v, "is not a port; valid values are 0..65535");
      }
      if (*n < 0 || *n > 65535) {
        return reject(a, v, "is out of range; valid ports are 0..65535");
      }
      return std::to_string(*n);
    }
    case Type::duration:
      if (!core::parse_duration(v)) {
        return reject(a, v, "is not " + accepted_values(a));
      }
      return std::string(v);
    case Type::enumeration:
      for (std::string_view allowed : a.values) {
        if (core::iequals(v, allowed)) {
          return std::string(allowed);
        }
      }
      return reject(a, v, "is not " + accepted_values(a));
    case Type::astring:
      for (char c : v) {
        if (static_cast<unsigned char>(c) >= 0x80) {
          return reject(a, v, "is not ASCII text");
        }
      }
      [[fallthrough]];
    case Type::string:
      if (a.maxlen != 0 && v.size() > a.maxlen) {
        return reject(a, v,
                      "is " + std::to_string(v.size()) + " characters long; at most " +
                          std::to_string(a.maxlen) + " are allowed");
      }
      return std::string(v);
    case Type::email:
      if (!is_email(v) || (a.maxlen != 0 && v.size() > a.maxlen)) {
        return reject(a, v, "is not " + accepted_values(a));
      }
      return core::to_lower(v);
    case Type::id:
      if (!is_uuid(v)) {
        return reject(a, v, "is not " + accepted_values(a));
      }
      return core::to_lower(v);
    case Type::binary:
      if (!is_base64(v)) {
        return reject(a, v, "is not base64 text");
      }
      return std::string(v);
    case Type::pem:
      for (char c : v) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x80 || (u < 0x20 && c != '\n' && c != '\r' && c != '\t')) {
          return reject(a, "(PEM text)", "is not PEM text (ASCII lines)");
        }
      }
      if (v.find("-----BEGIN ") == std::string_view::npos) {
        return reject(a, "(PEM text)", "is not PEM text: no -----BEGIN line; paste the whole file");
      }
      return std::string(v);
  }
  return std::string(v);
}

}  // namespace zmproxy::schema

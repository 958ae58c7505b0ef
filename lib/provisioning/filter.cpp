#include "lib/provisioning/filter.hpp"

#include "lib/core/strings.hpp"

#include <algorithm>
#include <utility>

namespace zmproxy::provisioning {

namespace {

constexpr std::size_t k_quoted_max = 80;  // bytes of filter text quoted in an error
constexpr char k_hex_digits[] = "0123456789abcdef";

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_keychar(char c) {
  return is_alpha(c) || is_digit(c) || c == '-';
}
// Characters that may appear in an attribute description or a matching rule.
bool is_attr_char(char c) {
  return is_keychar(c) || c == ';' || c == '.';
}

int hex_value(char c) {
  if (is_digit(c)) {
    return c - '0';
  }
  const char l = core::ascii_lower(c);
  return (l >= 'a' && l <= 'f') ? l - 'a' + 10 : -1;
}

constexpr std::string_view k_missing_type = "missing filter type ('=', '>=', '<=', '~=' or ':=')";

// Two lower-case hex digits.
std::string hex(char c) {
  const auto u = static_cast<unsigned char>(c);
  return {k_hex_digits[u >> 4], k_hex_digits[u & 0xf]};
}

bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// RFC 4515 escaping of * ( ) \ NUL, and of all control characters if asked.
std::string escape(std::string_view value, bool controls) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0' || (controls && is_control(c))) {
      out += '\\' + hex(c);
    } else {
      out += c;
    }
  }
  return out;
}

// The filter text for an error message: at most k_quoted_max bytes (not
// splitting a UTF-8 sequence), control characters as \XX, so it stays one line.
std::string quote_for_message(std::string_view text) {
  std::size_t n = text.size();
  const bool cut = n > k_quoted_max;
  if (cut) {
    n = k_quoted_max;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xc0) == 0x80) {
      --n;
    }
  }
  std::string out;
  for (const char c : text.substr(0, n)) {
    out += is_control(c) ? '\\' + hex(c) : std::string(1, c);
  }
  return out + (cut ? "..." : "");
}

// number *("." number), at least two numbers, no leading zeros.
bool is_numeric_oid(std::string_view s) {
  const std::vector<std::string> numbers = core::split(s, '.');
  return numbers.size() >= 2 && std::all_of(numbers.begin(), numbers.end(), [](auto& n) {
           return !n.empty() && std::all_of(n.begin(), n.end(), is_digit) &&
                  (n.size() == 1 || n.front() != '0');
         });
}

std::string describe_char(char c) {
  if (is_control(c) || static_cast<unsigned char>(c) >= 0x80) {
    return "byte 0x" + hex(c);
  }
  return std::string("'") + c + "'";
}

// Recursive-descent parser over the whole text; offsets are byte offsets into it.
class Parser {
 public:
  explicit Parser(std::string_view text) : m_text(text) {}

  Result<Filter> parse() {
    if (m_text.size() > k_filter_max_length) {
      return error("longer than " + std::to_string(k_filter_max_length) + " bytes",
                   k_filter_max_length);
    }
    if (m_text.empty()) {
      return error("empty filter", 0);
    }
    if (m_text.front() != '(') {
      return parse_item(false);  // "cn=foo": a simple item without parentheses
    }
    auto f = parse_parenthesized(1);
    if (f && !at_end()) {
      return error(peek() == ')' ? "unbalanced ')'" : "trailing characters after the filter",
                   m_pos);
    }
    return f;
  }

 private:
  bool at_end() const { return m_pos >= m_text.size(); }
  char peek() const { return m_text[m_pos]; }

  tl::unexpected<Error> error(const std::string& reason, std::size_t offset) const {
    return fail(Errc::invalid_argument, "invalid LDAP filter '" + quote_for_message(m_text) +
                                            "': " + reason + " at offset " +
                                            std::to_string(offset));
  }

  // At '(': a list, a negation or an item, up to and including its ')'.
  Result<Filter> parse_parenthesized(std::size_t depth) {
    const std::size_t open = m_pos;
    if (depth > k_filter_max_depth) {
      return error("nested deeper than " + std::to_string(k_filter_max_depth) + " levels", open);
    }
    ++m_pos;
    if (at_end()) {
      return error("missing ')'", m_pos);
    }
    Filter f;
    switch (peek()) {
      case ')':
        return error("empty filter", open);
      case '&':
      case '|': {
        f.kind = peek() == '&' ? Filter::Kind::and_ : Filter::Kind::or_;
        ++m_pos;
        while (!at_end() && peek() == '(') {
          auto child = parse_parenthesized(depth + 1);
          if (!child) {
            return child;
          }
          f.children.push_back(std::move(*child));
        }
        break;
      }
      case '!': {
        f.kind = Filter::Kind::not_;
        ++m_pos;
        if (at_end() || peek() != '(') {
          return at_end() ? error("missing ')'", m_pos)
                          : error("expected '(' after '!', found " + describe_char(peek()), m_pos);
        }
        auto child = parse_parenthesized(depth + 1);
        if (!child) {
          return child;
        }
        f.children.push_back(std::move(*child));
        if (!at_end() && peek() == '(') {
          return error("'!' takes exactly one filter", m_pos);
        }
        break;
      }
      default: {
        auto item = parse_item(true);
        if (!item) {
          return item;
        }
        f = std::move(*item);
        break;
      }
    }
    if (at_end()) {
      return error("missing ')'", m_pos);
    }
    if (peek() != ')') {
      return error("expected '(' or ')', found " + describe_char(peek()), m_pos);
    }
    ++m_pos;
    return f;
  }

  // An attribute description (RFC 4512): type *(";" option), where the type is
  // a descr (letter, then letters, digits, '-') or a numeric OID.
  Result<void> check_attr(std::string_view attr, std::size_t offset, bool options_allowed) const {
    const std::vector<std::string> parts = core::split(attr, ';');  // the type, then options
    const std::string& type = parts.front();
    if (parts.size() > 1 && !options_allowed) {
      return error("invalid character ';' in matching rule", offset + type.size());
    }
    if (type.empty()) {
      return error("empty attribute name", offset);
    }
    if (is_digit(type.front()) && !is_numeric_oid(type)) {
      return error("invalid numeric OID '" + type + "'", offset);
    }
    if (!is_digit(type.front()) && !is_alpha(type.front())) {
      return error("attribute name must start with a letter or digit", offset);
    }
    std::size_t at = offset;
    for (std::size_t i = 0; i < parts.size(); at += parts[i].size() + 1, ++i) {
      const std::string& part = parts[i];
      if (part.empty()) {
        return error("empty attribute option", at);
      }
      const auto bad = std::find_if_not(part.begin(), part.end(), is_keychar);
      if (bad != part.end() && !(i == 0 && is_digit(type.front()))) {
        return error("invalid character " + describe_char(*bad) +
                         (i == 0 ? " in attribute name" : " in attribute option"),
                     at + static_cast<std::size_t>(bad - part.begin()));
      }
    }
    return {};
  }

  std::string_view scan_attr_chars() {
    const std::size_t start = m_pos;
    while (!at_end() && is_attr_char(peek())) {
      ++m_pos;
    }
    return m_text.substr(start, m_pos - start);
  }

  // An item (attr=value and friends), after its '(' or at the start of the
  // text; stops at the ')' that ends it (wrapped) or at the end (not wrapped).
  Result<Filter> parse_item(bool wrapped) {
    const std::size_t start = m_pos;
    const std::string_view attr = scan_attr_chars();
    if (at_end()) {
      return error(attr.empty() ? "missing ')'" : std::string(k_missing_type), m_pos);
    }
    Filter f;
    f.attr = std::string(attr);
    const char c = peek();
    if (c == ':') {
      if (!attr.empty()) {
        ZMPROXY_TRY(check_attr(attr, start, true));
      }
      return parse_extensible(std::move(f), start, wrapped);
    }
    if (c == '>' || c == '<' || c == '~') {
      if (m_pos + 1 >= m_text.size() || m_text[m_pos + 1] != '=') {
        return error(std::string("expected '=' after '") + c + "'", m_pos + 1);
      }
      ZMPROXY_TRY(check_attr(attr, start, true));
      f.kind = c == '>'   ? Filter::Kind::greater_equal
               : c == '<' ? Filter::Kind::less_equal
                          : Filter::Kind::approx;
      m_pos += 2;
      return with_value(std::move(f), wrapped);
    }
    if (c != '=') {
      if (c == '(') {
        return error("unexpected '('", m_pos);
      }
      if (c == ')') {
        return error(attr.empty() ? "unbalanced ')'" : std::string(k_missing_type), m_pos);
      }
      return error("invalid character " + describe_char(c) + " in attribute description", m_pos);
    }
    ZMPROXY_TRY(check_attr(attr, start, true));
    ++m_pos;
    auto parts = parse_value(wrapped, true);
    if (!parts) {
      return tl::unexpected(std::move(parts).error());
    }
    std::vector<std::string>& p = *parts;
    if (p.size() == 1) {
      f.kind = Filter::Kind::equal;
      f.value = std::move(p.front());
      return f;
    }
    f.kind = Filter::Kind::substring;
    f.initial = std::move(p.front());
    f.final_ = std::move(p.back());
    for (std::size_t i = 1; i + 1 < p.size(); ++i) {
      if (!p[i].empty()) {  // "a**b": an empty "any" constrains nothing
        f.any.push_back(std::move(p[i]));
      }
    }
    if (f.initial.empty() && f.any.empty() && f.final_.empty()) {
      f.kind = Filter::Kind::present;  // "attr=*" (or "attr=**")
    }
    return f;
  }

  // At the ':' after the (possibly empty) attribute: [":dn"] [":" rule] ":=" value.
  Result<Filter> parse_extensible(Filter f, std::size_t start, bool wrapped) {
    f.kind = Filter::Kind::extensible;
    for (int token = 0; !(peek() == ':' && m_pos + 1 < m_text.size() && m_text[m_pos + 1] == '=');
         ++token) {
      ++m_pos;  // the ':'
      const std::size_t token_start = m_pos;
      const std::string_view word = scan_attr_chars();
      if (at_end()) {
        return error("missing ':=' in extensible match", m_pos);
      }
      if (peek() != ':') {
        return error("invalid character " + describe_char(peek()) + " in extensible match", m_pos);
      }
      if (token == 0 && core::iequals(word, "dn")) {
        f.dn_attrs = true;
      } else if (f.rule.empty() && !word.empty()) {
        ZMPROXY_TRY(check_attr(word, token_start, false));
        f.rule = std::string(word);
      } else {
        return error(word.empty() ? "empty matching rule" : "expected ':=' in extensible match",
                     token_start);
      }
    }
    if (f.attr.empty() && f.rule.empty()) {
      return error("extensible match without an attribute needs a matching rule", start);
    }
    m_pos += 2;  // ":="
    return with_value(std::move(f), wrapped);
  }

  // `f` with its value (no unescaped '*' allowed) parsed from here.
  Result<Filter> with_value(Filter f, bool wrapped) {
    auto parts = parse_value(wrapped, false);
    if (!parts) {
      return tl::unexpected(std::move(parts).error());
    }
    f.value = std::move(parts->front());
    return f;
  }

  // An assertion value with \XX escapes decoded, split at unescaped '*' when
  // stars are allowed (so one part means no star). Stops before ')' or at the end.
  Result<std::vector<std::string>> parse_value(bool wrapped, bool stars_allowed) {
    std::vector<std::string> parts(1);
    while (!at_end()) {
      const char c = peek();
      switch (c) {
        case ')':
          if (!wrapped) {
            return error("unbalanced ')'", m_pos);
          }
          return parts;
        case '(':
          return error("unescaped '(' in value (write \\28)", m_pos);
        case '\0':
          return error("NUL byte in value (write \\00)", m_pos);
        case '*':
          if (!stars_allowed) {
            return error("unescaped '*' in value (write \\2a)", m_pos);
          }
          parts.emplace_back();
          ++m_pos;
          break;
        case '\\': {
          const int hi = m_pos + 1 < m_text.size() ? hex_value(m_text[m_pos + 1]) : -1;
          const int lo = m_pos + 2 < m_text.size() ? hex_value(m_text[m_pos + 2]) : -1;
          if (hi < 0 || lo < 0) {
            return error("bad escape: '\\' must be followed by two hex digits", m_pos);
          }
          parts.back() += static_cast<char>(hi * 16 + lo);
          m_pos += 3;
          break;
        }
        default:
          parts.back() += c;
          ++m_pos;
          break;
      }
    }
    if (wrapped) {
      return error("missing ')'", m_pos);
    }
    return parts;
  }

  std::string_view m_text;
  std::size_t m_pos = 0;
};

bool is_integer(std::string_view s) {
  if (!s.empty() && s.front() == '-') {
    s.remove_prefix(1);
  }
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

// Compare two decimal integers of any length: <0, 0, >0.
int compare_integers(std::string_view a, std::string_view b) {
  const auto split_sign = [](std::string_view s) {
    const bool negative = s.front() == '-';
    if (negative) {
      s.remove_prefix(1);
    }
    s.remove_prefix(std::min(s.find_first_not_of('0'), s.size()));
    return std::pair{negative && !s.empty(), s};  // -0 is 0
  };
  const auto [a_negative, a_digits] = split_sign(a);
  const auto [b_negative, b_digits] = split_sign(b);
  if (a_negative != b_negative) {
    return a_negative ? -1 : 1;
  }
  const int magnitude = a_digits.size() == b_digits.size()  ? a_digits.compare(b_digits)
                        : a_digits.size() < b_digits.size() ? -1
                                                            : 1;
  return a_negative ? -magnitude : magnitude;
}

// Ordering of a stored value against an assertion value.
int compare_values(std::string_view stored, std::string_view assertion) {
  if (is_integer(stored) && is_integer(assertion)) {
    return compare_integers(stored, assertion);
  }
  return core::to_lower(stored).compare(core::to_lower(assertion));
}

bool substring_matches(const Filter& f, std::string_view stored) {
  const std::string value = core::to_lower(stored);
  const std::string initial = core::to_lower(f.initial);
  const std::string final_ = core::to_lower(f.final_);
  if (initial.size() + final_.size() > value.size() ||
      value.compare(0, initial.size(), initial) != 0 ||
      value.compare(value.size() - final_.size(), final_.size(), final_) != 0) {
    return false;
  }
  std::size_t pos = initial.size();
  const std::size_t end = value.size() - final_.size();
  for (const std::string& any : f.any) {
    const std::size_t found = value.find(core::to_lower(any), pos);
    if (found == std::string::npos || found + any.size() > end) {
      return false;
    }
    pos = found + any.size();
  }
  return true;
}

void print(const Filter& f, std::string& out) {
  out += '(';
  switch (f.kind) {
    case Filter::Kind::and_:
    case Filter::Kind::or_:
    case Filter::Kind::not_:
      out += f.kind == Filter::Kind::and_ ? '&' : f.kind == Filter::Kind::or_ ? '|' : '!';
      for (const Filter& child : f.children) {
        print(child, out);
      }
      break;
    case Filter::Kind::equal:
      out += f.attr + "=" + escape(f.value, true);
      break;
    case Filter::Kind::greater_equal:
    case Filter::Kind::less_equal:
    case Filter::Kind::approx:
      out += f.attr;
      out += f.kind == Filter::Kind::greater_equal ? ">="
             : f.kind == Filter::Kind::less_equal  ? "<="
                                                   : "~=";
      out += escape(f.value, true);
      break;
    case Filter::Kind::substring:
      out += f.attr + "=" + escape(f.initial, true) + "*";
      for (const std::string& any : f.any) {
        out += escape(any, true) + "*";
      }
      out += escape(f.final_, true);
      break;
    case Filter::Kind::present:
      out += f.attr + "=*";
      break;
    case Filter::Kind::extensible:
      out += f.attr;
      if (f.dn_attrs) {
        out += ":dn";
      }
      if (!f.rule.empty()) {
        out += ":" + f.rule;
      }
      out += ":=" + escape(f.value, true);
      break;
  }
  out += ')';
}

}  // namespace

Result<Filter> parse_filter(std::string_view text) {
  return Parser(text).parse();
}

bool matches(const Filter& f, const Entry& e) {
  const auto any_value = [&](auto&& pred) {
    const Values* values = e.values(f.attr);
    return values != nullptr && std::any_of(values->begin(), values->end(), pred);
  };
  switch (f.kind) {
    case Filter::Kind::and_:
      return std::all_of(f.children.begin(), f.children.end(),
                         [&](const Filter& c) { return matches(c, e); });
    case Filter::Kind::or_:
      return std::any_of(f.children.begin(), f.children.end(),
                         [&](const Filter& c) { return matches(c, e); });
    case Filter::Kind::not_:
      return f.children.size() == 1 && !matches(f.children.front(), e);
    case Filter::Kind::equal:
    case Filter::Kind::approx:
      return any_value([&](const std::string& v) { return core::iequals(v, f.value); });
    case Filter::Kind::substring:
      return any_value([&](const std::string& v) { return substring_matches(f, v); });
    case Filter::Kind::greater_equal:
      return any_value([&](const std::string& v) { return compare_values(v, f.value) >= 0; });
    case Filter::Kind::less_equal:
      return any_value([&](const std::string& v) { return compare_values(v, f.value) <= 0; });
    case Filter::Kind::present:
      return e.has(f.attr);
    case Filter::Kind::extensible:
      return false;
  }
  return false;
}

std::string escape_filter_value(std::string_view value) {
  return escape(value, false);
}

std::string to_string(const Filter& f) {
  std::string out;
  print(f, out);
  return out;
}

}  // namespace zmproxy::provisioning

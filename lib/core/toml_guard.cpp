#include "lib/core/toml_guard.hpp"

namespace zmproxy::core {

namespace {

bool high(char c) noexcept {
  return static_cast<unsigned char>(c) >= 0x80;
}

}  // namespace

std::size_t toml_unsafe_line(std::string_view t) noexcept {
  enum class In { none, comment, basic, literal, ml_basic, ml_literal };
  In in = In::none;
  std::size_t line = 1;
  std::size_t i = t.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  // Closes a multi-line string at `quote` x3, and up to two more quotes
  // (content, as TOML reads a run of up to five).
  const auto close_multi = [&](char quote) {
    i += 3;
    for (int extra = 0; extra < 2 && i < t.size() && t[i] == quote; ++extra) {
      ++i;
    }
    in = In::none;
  };
  // The last character outside strings and blanks: a quote opens a string
  // only where a key or value may start; elsewhere ("0\"...") it is a byte of
  // a bare token, which toml++ scans with its whitespace test
  // (corpus/localconfig/quote_inside_bare_value).
  char before = '\n';
  while (i < t.size()) {
    const char c = t[i];
    if (in == In::none && c != ' ' && c != '\t' && c != '\r' && c != '"' && c != '\'') {
      before = c;
    }
    if (c == '\n') {
      ++line;
      if (in != In::ml_basic && in != In::ml_literal) {
        in = In::none;  // comments end; a single-line string is unterminated
      }
      ++i;
      continue;
    }
    switch (in) {
      case In::none:
        if (c == '#') {
          in = In::comment;
        } else if ((c == '"' || c == '\'') &&
                   std::string_view("\n=[,{.").find(before) == std::string_view::npos) {
          before = c;  // inside a bare token
        } else if (t.substr(i, 3) == "\"\"\"") {
          in = In::ml_basic;
          i += 2;
        } else if (t.substr(i, 3) == "'''") {
          in = In::ml_literal;
          i += 2;
        } else if (c == '"') {
          in = In::basic;
        } else if (c == '\'') {
          in = In::literal;
        } else if (high(c)) {
          return line;
        }
        ++i;
        break;
      case In::comment:
        ++i;
        break;
      case In::basic:
        if (c == '\\' && i + 1 < t.size() && t[i + 1] != '\n') {
          i += 2;
        } else {
          in = c == '"' ? In::none : In::basic;
          ++i;
        }
        break;
      case In::literal:
        in = c == '\'' ? In::none : In::literal;
        ++i;
        break;
      case In::ml_basic:
        if (t.substr(i, 3) == "\"\"\"") {
          close_multi('"');
        } else if (c == '\\') {
          // An escape, or a line-ending backslash: blanks and newlines, then
          // the first other character goes through the whitespace test.
          std::size_t j = i + 1;
          while (j < t.size() && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r')) {
            ++j;
          }
          if (j < t.size() && t[j] == '\n') {
            while (j < t.size() && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r' || t[j] == '\n')) {
              line += t[j] == '\n' ? 1 : 0;
              ++j;
            }
            if (j < t.size() && high(t[j])) {
              return line;
            }
            i = j;
          } else {
            i += i + 1 < t.size() && t[i + 1] != '\n' ? 2 : 1;
          }
        } else {
          ++i;
        }
        break;
      case In::ml_literal:
        if (t.substr(i, 3) == "'''") {
          close_multi('\'');
        } else {
          ++i;
        }
        break;
    }
  }
  return 0;
}

std::string one_line_text(std::string_view s) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += "\\u00";
      out += k_hex[u >> 4];
      out += k_hex[u & 15];
    }
  }
  return out;
}

}  // namespace zmproxy::core

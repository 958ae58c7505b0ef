#include "lib/proxy/http/json_scan.hpp"

#include "lib/core/strings.hpp"

#include <cstdint>
#include <utility>

namespace zmproxy::proxy::http {

namespace {

// A cursor over the text; each reader consumes what it accepts.
class JsonScan {
 public:
  explicit JsonScan(std::string_view text) : m_s(text) {}

  // The string value of the top-level member `key`; nullopt when the text is
  // not one JSON object, or the member is missing, repeated or not a string.
  std::optional<std::string> top_level_string(std::string_view key) {
    skip_ws();
    if (!eat('{')) {
      return std::nullopt;
    }
    std::optional<std::string> found;
    bool seen = false;
    skip_ws();
    if (!eat('}')) {
      for (;;) {
        skip_ws();
        std::string name;
        if (!string(&name)) {
          return std::nullopt;
        }
        skip_ws();
        if (!eat(':')) {
          return std::nullopt;
        }
        skip_ws();
        if (name == key) {
          if (seen) {
            return std::nullopt;  // a repeated claim is odd
          }
          seen = true;
          if (peek() == '"') {
            std::string value;
            if (!string(&value)) {
              return std::nullopt;
            }
            found = std::move(value);
          } else if (!value(1)) {
            return std::nullopt;
          }
        } else if (!value(1)) {
          return std::nullopt;
        }
        skip_ws();
        if (eat(',')) {
          continue;
        }
        if (eat('}')) {
          break;
        }
        return std::nullopt;
      }
    }
    skip_ws();
    if (m_i != m_s.size()) {
      return std::nullopt;
    }
    return found;
  }

 private:
  char peek() const noexcept { return m_i < m_s.size() ? m_s[m_i] : '\0'; }

  bool eat(char c) noexcept {
    if (m_i < m_s.size() && m_s[m_i] == c) {
      ++m_i;
      return true;
    }
    return false;
  }

  void skip_ws() noexcept {
    while (m_i < m_s.size() &&
           (m_s[m_i] == ' ' || m_s[m_i] == '\t' || m_s[m_i] == '\n' || m_s[m_i] == '\r')) {
      ++m_i;
    }
  }

  bool hex4(std::uint32_t& out) noexcept {
    if (m_s.size() - m_i < 4) {
      return false;
    }
    out = 0;
    for (int k = 0; k < 4; ++k) {
      const int v = core::hex_digit_value(m_s[m_i++]);
      if (v < 0) {
        return false;
      }
      out = (out << 4) | static_cast<std::uint32_t>(v);
    }
    return true;
  }

  static void append_utf8(std::string* out, std::uint32_t cp) {
    if (out == nullptr) {
      return;
    }
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  // A string; its unescaped bytes go to *out unless out is null.
  bool string(std::string* out) {
    if (!eat('"')) {
      return false;
    }
    while (m_i < m_s.size()) {
      const char c = m_s[m_i++];
      if (c == '"') {
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return false;
      }
      if (c != '\\') {
        if (out != nullptr) {
          out->push_back(c);
        }
        continue;
      }
      if (m_i >= m_s.size()) {
        return false;
      }
      const char e = m_s[m_i++];
      if (e == 'u') {
        std::uint32_t cp = 0;
        if (!hex4(cp) || (cp >= 0xdc00 && cp <= 0xdfff)) {
          return false;  // bad hex, or a lone low surrogate
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
          std::uint32_t low = 0;
          if (!eat('\\') || !eat('u') || !hex4(low) || low < 0xdc00 || low > 0xdfff) {
            return false;
          }
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        append_utf8(out, cp);
        continue;
      }
      constexpr std::string_view k_escaped = "\"\\/bfnrt";
      constexpr std::string_view k_plain = "\"\\/\b\f\n\r\t";
      const std::size_t which = k_escaped.find(e);
      if (which == std::string_view::npos) {
        return false;
      }
      if (out != nullptr) {
        out->push_back(k_plain[which]);
      }
    }
    return false;  // unterminated
  }

  bool digits() noexcept {
    const std::size_t start = m_i;
    while (m_i < m_s.size() && m_s[m_i] >= '0' && m_s[m_i] <= '9') {
      ++m_i;
    }
    return m_i != start;
  }

  bool number() noexcept {
    eat('-');
    if (!eat('0') && !digits()) {
      return false;
    }
    if (eat('.') && !digits()) {
      return false;
    }
    if (eat('e') || eat('E')) {
      if (!eat('+')) {
        eat('-');
      }
      if (!digits()) {
        return false;
      }
    }
    return true;
  }

  bool literal(std::string_view word) noexcept {
    if (m_s.substr(m_i, word.size()) != word) {
      return false;
    }
    m_i += word.size();
    return true;
  }

  bool value(int depth) {
    if (depth > k_max_json_depth) {
      return false;
    }
    skip_ws();
    switch (peek()) {
      case '"':
        return string(nullptr);
      case '{':
        ++m_i;
        skip_ws();
        if (eat('}')) {
          return true;
        }
        for (;;) {
          skip_ws();
          if (!string(nullptr)) {
            return false;
          }
          skip_ws();
          if (!eat(':') || !value(depth + 1)) {
            return false;
          }
          skip_ws();
          if (!eat(',')) {
            return eat('}');
          }
        }
      case '[':
        ++m_i;
        skip_ws();
        if (eat(']')) {
          return true;
        }
        for (;;) {
          if (!value(depth + 1)) {
            return false;
          }
          skip_ws();
          if (!eat(',')) {
            return eat(']');
          }
        }
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  std::string_view m_s;
  std::size_t m_i = 0;
};


}  // namespace

std::optional<std::string> json_top_level_string(std::string_view json, std::string_view key) {
  return JsonScan(json).top_level_string(key);
}

}  // namespace zmproxy::proxy::http

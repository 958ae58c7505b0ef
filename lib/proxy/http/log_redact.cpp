#include "lib/proxy/http/log_redact.hpp"

#include "lib/core/strings.hpp"

#include <array>

namespace zmproxy::proxy::http {

bool is_credential_parameter(std::string_view name) {
  // Decoded and lower-cased into a small buffer: the longest name is 10
  // characters, so anything longer (after decoding) is not one of them.
  std::array<char, 16> decoded{};
  std::size_t n = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '%' && i + 2 < name.size()) {
      const int hi = core::hex_digit_value(name[i + 1]);
      const int lo = core::hex_digit_value(name[i + 2]);
      if (hi >= 0 && lo >= 0) {
        c = static_cast<char>(hi * 16 + lo);
        i += 2;
      }
    } else if (c == '+') {
      c = ' ';
    }
    if (n == decoded.size()) {
      return false;
    }
    decoded[n++] = core::ascii_lower(c);
  }
  const std::string_view d(decoded.data(), n);
  return d == "zauthtoken" || d == "zjwt" || d == "preauth" || d == "auth";
}

namespace {

// "scheme://user:password@host...": the user information of an absolute URL
// (a Referer, or the absolute-form target of a request line, which is
// refused but still logged) becomes "***".
void redact_userinfo(std::string& url) {
  const std::size_t space = url.find(' ');
  const std::size_t start = space == std::string::npos ? 0 : space + 1;  // after the method
  const std::size_t scheme_end = url.find("://", start);
  if (scheme_end == std::string::npos || scheme_end == start) {
    return;
  }
  for (std::size_t i = start; i < scheme_end; ++i) {
    const char c = url[i];
    const bool scheme_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!scheme_char) {
      return;
    }
  }
  const std::size_t authority = scheme_end + 3;
  std::size_t authority_end = url.find_first_of("/?# ", authority);
  if (authority_end == std::string::npos) {
    authority_end = url.size();
  }
  const std::size_t at =
      std::string_view(url).substr(authority, authority_end - authority).rfind('@');
  if (at == std::string_view::npos || std::string_view(url).substr(authority, at) == k_redacted) {
    return;
  }
  url.replace(authority, at, k_redacted);
}

}  // namespace

void redact_credentials(std::string& url) {
  redact_userinfo(url);
  std::size_t at = url.find('?');
  if (at == std::string::npos) {
    return;
  }
  const auto end_of_query = [&url](std::size_t from) {
    const std::size_t e = url.find_first_of("# ", from);
    return e == std::string::npos ? url.size() : e;
  };
  std::size_t end = end_of_query(at);
  std::size_t pos = at + 1;
  while (pos < end) {
    std::size_t next = url.find_first_of("&;", pos);
    if (next == std::string::npos || next > end) {
      next = end;
    }
    const std::size_t eq = url.find('=', pos);
    if (eq != std::string::npos && eq < next &&
        is_credential_parameter(std::string_view(url).substr(pos, eq - pos)) &&
        std::string_view(url).substr(eq + 1, next - eq - 1) != k_redacted) {
      url.replace(eq + 1, next - eq - 1, k_redacted);
      next = eq + 1 + k_redacted.size();
      end = end_of_query(next);
    }
    pos = next + 1;
  }
}

}  // namespace zmproxy::proxy::http

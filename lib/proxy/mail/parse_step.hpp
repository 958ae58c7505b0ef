#pragma once
// What the IMAP and POP3 push parsers share (standard library only: they
// are fuzzed and built into the parser library).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace zmproxy::proxy::mail {

// What one feed() did: the parser's status, how many bytes it used, and for
// invalid and too_long a short static English reason.
template <class Status>
struct ParseStep {
  Status status = Status::need_more;
  std::size_t consumed = 0;
  std::string_view reason;
};

// Hand over a finished result and leave a fresh one in its place (take()).
template <class T>
T take_result(T& result) {
  return std::exchange(result, T{});
}

// The text of a response code at the start of `text` ("[CODE args] rest" ->
// "CODE args"), or nullopt: IMAP's and POP3's (RFC 2449 section 8) alike.
inline std::optional<std::string> bracketed_code(std::string_view text) {
  if (text.empty() || text[0] != '[') {
    return std::nullopt;
  }
  const std::size_t close = text.find(']');
  if (close == std::string_view::npos || close == 1) {
    return std::nullopt;
  }
  return std::string(text.substr(1, close - 1));
}

}  // namespace zmproxy::proxy::mail

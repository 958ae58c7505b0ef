#include "lib/route/memcached_reply.hpp"

#include <cstdint>

namespace zmproxy::route {

namespace {

// A decimal number of 1 to `digits` digits, as a whole token.
bool parse_decimal(std::string_view token, std::size_t digits, std::uint64_t& out) {
  if (token.empty() || token.size() > digits) {
    return false;
  }
  out = 0;
  for (const char ch : token) {
    if (ch < '0' || ch > '9') {
      return false;
    }
    out = out * 10 + static_cast<std::uint64_t>(ch - '0');
  }
  return true;
}

// The next space-separated token of `line` (single spaces only, as memcached writes).
std::string_view next_token(std::string_view& line) {
  const std::size_t space = line.find(' ');
  std::string_view token = line.substr(0, space);
  line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  return token;
}

}  // namespace

GetReplyStatus parse_get_reply(std::string_view reply,
                               std::span<const std::string> keys,
                               std::size_t max_value,
                               std::vector<std::optional<std::string>>& values) {
  values.assign(keys.size(), std::nullopt);
  std::size_t next_key = 0;  // keys before it were answered or skipped
  while (true) {
    const std::size_t eol = reply.find("\r\n");
    if (eol == std::string_view::npos) {
      // No whole line yet: bad once it is longer than any line we accept,
      // or when it cannot become END or a VALUE line.
      if (reply.size() > k_max_get_header) {
        return GetReplyStatus::bad;
      }
      const bool may_end = std::string_view("END\r").starts_with(reply);
      const bool may_value = reply.size() <= 6 ? std::string_view("VALUE ").starts_with(reply)
                                               : reply.starts_with("VALUE ");
      return may_end || may_value ? GetReplyStatus::incomplete : GetReplyStatus::bad;
    }
    if (eol > k_max_get_header) {
      return GetReplyStatus::bad;
    }
    std::string_view line = reply.substr(0, eol);
    if (line == "END") {
      return eol + 2 == reply.size() ? GetReplyStatus::complete : GetReplyStatus::bad;
    }
    if (next_token(line) != "VALUE") {
      return GetReplyStatus::bad;
    }
    const std::string_view key = next_token(line);
    std::uint64_t flags = 0;
    std::uint64_t bytes = 0;
    std::uint64_t cas = 0;
    if (!parse_decimal(next_token(line), 10, flags) || flags > UINT32_MAX ||
        !parse_decimal(next_token(line), 10, bytes) || bytes > max_value ||
        (!line.empty() && !parse_decimal(next_token(line), 20, cas)) || !line.empty()) {
      return GetReplyStatus::bad;
    }
    std::size_t index = next_key;
    while (index < keys.size() && keys[index] != key) {
      ++index;
    }
    if (index == keys.size()) {
      return GetReplyStatus::bad;  // not asked, asked before this one, or twice
    }
    const std::size_t data_at = eol + 2;
    if (reply.size() < data_at + bytes + 2) {
      return GetReplyStatus::incomplete;
    }
    if (reply.substr(data_at + bytes, 2) != "\r\n") {
      return GetReplyStatus::bad;
    }
    values[index] = std::string(reply.substr(data_at, bytes));
    next_key = index + 1;
    reply.remove_prefix(data_at + bytes + 2);
  }
}

}  // namespace zmproxy::route

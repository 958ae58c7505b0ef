#include "lib/route/memcached_metadump.hpp"

#include "lib/core/strings.hpp"
#include "lib/route/cache_key.hpp"

#include <charconv>

namespace zmproxy::route {

namespace {

// The value of `name=` among the space-separated fields of `line`.
std::optional<std::string_view> field(std::string_view line, std::string_view name) {
  while (!line.empty()) {
    const std::size_t space = line.find(' ');
    const std::string_view token = line.substr(0, space);
    if (token.size() > name.size() && token.substr(0, name.size()) == name &&
        token[name.size()] == '=') {
      return token.substr(name.size() + 1);
    }
    if (space == std::string_view::npos) {
      break;
    }
    line.remove_prefix(space + 1);
  }
  return std::nullopt;
}

}  // namespace

std::optional<MetadumpEntry> parse_metadump_line(std::string_view line) {
  if (line.substr(0, 4) != "key=") {
    return std::nullopt;
  }
  const std::optional<std::string_view> encoded = field(line, "key");
  const std::optional<std::string_view> exp = field(line, "exp");
  if (!encoded || !exp || exp->empty()) {
    return std::nullopt;
  }
  std::optional<std::string> key = core::percent_decode(*encoded, false);
  if (!key || !is_safe_key(*key)) {
    return std::nullopt;
  }
  std::int64_t when = 0;
  const auto [end, ec] = std::from_chars(exp->data(), exp->data() + exp->size(), when);
  if (ec != std::errc{} || end != exp->data() + exp->size() || when < -1) {
    return std::nullopt;
  }
  MetadumpEntry entry;
  entry.key = std::move(*key);
  if (when >= 0) {
    entry.expires = when;
  }
  return entry;
}

}  // namespace zmproxy::route

#include "lib/route/forget_command.hpp"

#include <algorithm>

namespace zmproxy::route {

namespace {

constexpr std::string_view k_usage = "use FORGET ALL or FORGET <name> [<name> ...] (at most 100 names)";

// A name as an error may show it: at most 64 bytes, anything but printable
// ASCII as '?'.
std::string shown(std::string_view name) {
  std::string out(name.substr(0, 64));
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u >= 0x7f) {
      c = '?';
    }
  }
  return name.size() > 64 ? out + "..." : out;
}

}  // namespace

bool is_forgettable_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > k_max_forget_name_bytes) {
    return false;
  }
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return false;
    }
  }
  const std::size_t at = name.find('@');
  if (at == std::string_view::npos) {
    return true;
  }
  return at > 0 && at + 1 < name.size() && name.find('@', at + 1) == std::string_view::npos;
}

Result<ForgetCommand> parse_forget(std::string_view line) {
  constexpr std::string_view k_verb = "FORGET";
  if (line.substr(0, k_verb.size()) != k_verb || (line.size() > k_verb.size() && line[k_verb.size()] != ' ')) {
    return fail(Errc::invalid_argument, std::string("not a FORGET command; ") + std::string(k_usage));
  }
  std::vector<std::string_view> words;
  std::string_view rest = line.substr(k_verb.size());
  while (!rest.empty()) {
    const std::size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(start);
    const std::size_t end = std::min(rest.find(' '), rest.size());
    if (words.size() == k_max_forget_names) {
      return fail(Errc::invalid_argument, "FORGET takes at most 100 names; send several commands, or FORGET ALL");
    }
    words.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  if (words.empty()) {
    return fail(Errc::invalid_argument, std::string("FORGET needs ALL or names; ") + std::string(k_usage));
  }
  ForgetCommand out;
  if (words.size() == 1 && words.front() == "ALL") {
    out.all = true;
    return out;
  }
  for (const std::string_view w : words) {
    if (w == "ALL") {
      return fail(Errc::invalid_argument, "FORGET ALL takes no names; " + std::string(k_usage));
    }
    if (!is_forgettable_name(w)) {
      return fail(Errc::invalid_argument,
                  "not an account name: '" + shown(w) +
                      "' (1 to 256 bytes, no space or control byte, at most one '@' between two parts)");
    }
    out.names.emplace_back(w);
  }
  return out;
}

}  // namespace zmproxy::route

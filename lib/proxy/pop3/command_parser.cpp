#include "lib/proxy/pop3/command_parser.hpp"

#include <algorithm>
#include <utility>

#include "lib/core/strings.hpp"

namespace zmproxy::proxy::pop3 {

namespace {

bool is_keyword_char(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7e;
}

// True while `line` may still become (or already is) an "AUTH " line.
bool auth_candidate(std::string_view line) noexcept {
  constexpr std::string_view k_auth = "AUTH ";
  const std::size_t n = std::min(line.size(), k_auth.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (core::ascii_upper(line[i]) != k_auth[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

CommandParser::CommandParser(const Limits& limits) noexcept : m_limits(limits) {
  m_limits.max_line = std::max<std::size_t>(m_limits.max_line, 1);
  m_limits.max_auth_line = std::max(m_limits.max_auth_line, m_limits.max_line);
}

void CommandParser::reset() noexcept {
  m_state = State::reading;
  m_line.clear();
  m_result = Command{};
  m_fail_reason = {};
}

Command CommandParser::take() {
  if (m_state == State::ready) {
    m_state = State::reading;
  }
  return mail::take_result(m_result);
}

std::size_t CommandParser::line_limit() const noexcept {
  return auth_candidate(m_line) ? m_limits.max_auth_line : m_limits.max_line;
}

CommandParser::Step CommandParser::feed(std::string_view data) {
  switch (m_state) {
    case State::ready:  // a command waits for take()
      return {Status::command_ready, 0, {}};
    case State::failed:  // final until reset()
      return {Status::too_long, 0, m_fail_reason};
    case State::reading:
      break;
  }
  std::size_t pos = 0;
  while (pos < data.size()) {
    // The limit is settled once the first five bytes are known; until then
    // go byte by byte.
    const std::size_t limit = line_limit();
    const std::size_t budget = limit - m_line.size();
    const std::size_t step = m_line.size() < 5 ? std::size_t{1} : budget;
    const std::string_view window = data.substr(pos, std::min(step, budget));
    const std::size_t lf = window.find('\n');
    if (lf != std::string_view::npos) {
      m_line.append(window.substr(0, lf));
      return finish_line(pos + lf + 1);
    }
    m_line.append(window);
    pos += window.size();
    if (m_line.size() >= line_limit()) {
      m_line.clear();
      m_state = State::failed;
      m_fail_reason = "command line too long";
      return {Status::too_long, pos, m_fail_reason};
    }
  }
  return {Status::need_more, data.size(), {}};
}

CommandParser::Step CommandParser::finish_line(std::size_t consumed) {
  std::string line;
  line.swap(m_line);
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  const auto invalid = [&](std::string_view reason) -> Step {
    m_result = Command{};
    return {Status::invalid, consumed, reason};
  };
  if (line.empty()) {
    return invalid("empty command line");
  }
  if (line.find('\0') != std::string::npos) {
    return invalid("NUL in a command");
  }
  if (line.find('\r') != std::string::npos) {
    return invalid("CR without LF");
  }
  const std::size_t sp = line.find(' ');
  const std::string_view keyword = std::string_view(line).substr(0, sp);
  if (keyword.empty() || !std::all_of(keyword.begin(), keyword.end(), is_keyword_char)) {
    return invalid("invalid command name");
  }
  Command command;
  command.name.reserve(keyword.size());
  for (const char c : keyword) {
    command.name.push_back(core::ascii_upper(c));
  }
  if (sp != std::string::npos) {
    command.rest = line.substr(sp + 1);
    std::string_view rest = command.rest;
    while (!rest.empty()) {
      const std::size_t end = rest.find(' ');
      if (end != 0) {
        command.args.emplace_back(rest.substr(0, end));
      }
      if (end == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(end + 1);
    }
  }
  m_result = std::move(command);
  m_state = State::ready;
  return {Status::command_ready, consumed, {}};
}

std::optional<std::string> format_command(std::string_view keyword,
                                          std::string_view argument,
                                          std::size_t max_line) {
  if (keyword.empty() || !std::all_of(keyword.begin(), keyword.end(), is_keyword_char) ||
      argument.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string line(keyword);
  if (!argument.empty()) {
    line.push_back(' ');
    line.append(argument);
  }
  line.append("\r\n");
  if (line.size() > max_line) {
    return std::nullopt;
  }
  return line;
}

}  // namespace zmproxy::proxy::pop3

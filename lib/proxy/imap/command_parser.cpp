#include "lib/proxy/imap/command_parser.hpp"
#include "lib/proxy/imap/imap_chars.hpp"

#include <algorithm>
#include <utility>

namespace zmproxy::proxy::imap {

namespace {

// RFC 3501 tag: 1*<any ASTRING-CHAR except "+">, so no "%" or "*" either.
bool is_tag_char(char c) noexcept {
  return is_atom_char(c) && c != '%' && c != '*' && c != '+';
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

std::string_view unexpected(char c) noexcept {
  return static_cast<unsigned char>(c) >= 0x80 ? "8-bit character outside a string"
                                               : "unexpected character";
}

}  // namespace

CommandParser::CommandParser(const Limits& limits) noexcept : m_limits(limits) {
  m_limits.max_line = std::max<std::size_t>(m_limits.max_line, 1);
}

void CommandParser::reset() noexcept {
  m_state = State::tag_start;
  m_result = Command{};
  m_fail_reason = {};
  start_command();
}

void CommandParser::start_command() noexcept {
  m_command = Command{};
  m_tag_done = false;
  m_name_done = false;
  m_depth = 0;
  m_list_items = 0;
  m_line_bytes = 0;
  m_command_bytes = 0;
  m_literal_size = 0;
  m_literal_plus = false;
  m_nul_in_literal = false;
  m_skip_tail = SkipTail::none;
  m_skip_reason = {};
}

Command CommandParser::take() {
  Command out = mail::take_result(m_result);
  if (m_state == State::ready) {
    m_state = State::tag_start;
    start_command();
  }
  return out;
}

Command CommandParser::partial_command() {
  Command partial;
  if (m_tag_done) {
    partial.tag = std::move(m_command.tag);
  }
  if (m_name_done) {
    partial.name = std::move(m_command.name);
  }
  return partial;
}

std::vector<Arg>& CommandParser::current_list() {
  std::vector<Arg>* list = &m_command.args;
  for (std::size_t d = 0; d < m_depth; ++d) {
    list = &list->back().children;
  }
  return *list;
}

// Adds an argument to the innermost list; a limit's reason if one is hit.
std::string_view CommandParser::begin_arg(Arg::Kind kind) {
  if (m_depth == 0) {
    if (m_command.args.size() >= m_limits.max_args) {
      return "too many arguments";
    }
  } else {
    if (m_list_items >= m_limits.max_list_items) {
      return "too many list elements";
    }
    ++m_list_items;
  }
  Arg arg;
  arg.kind = kind;
  current_list().push_back(std::move(arg));
  return {};
}

CommandParser::Step CommandParser::fail(std::string_view reason, std::size_t consumed) {
  m_result = partial_command();
  m_state = State::failed;
  m_fail_reason = reason;
  return {Status::too_long, consumed, reason};
}

// The command is malformed at byte `c`: skip to the LF (which may be `c`).
CommandParser::Step CommandParser::invalid(std::string_view reason, char c, std::size_t consumed) {
  m_skip_reason = reason;
  m_skip_tail = SkipTail::none;
  m_state = State::skip;
  return skip_byte(c, consumed);
}

// One byte of a line being skipped; watches for a trailing "{n+}".
CommandParser::Step CommandParser::skip_byte(char c, std::size_t consumed) {
  if (c == '\n') {
    if (m_skip_tail == SkipTail::close) {
      return fail("invalid command with a non-synchronising literal", consumed);
    }
    const std::string_view reason = m_skip_reason;
    m_result = partial_command();
    m_state = State::tag_start;
    start_command();
    return {Status::invalid, consumed, reason};
  }
  if (c == '{') {
    m_skip_tail = SkipTail::open;
  } else if (is_digit(c) && (m_skip_tail == SkipTail::open || m_skip_tail == SkipTail::digits)) {
    m_skip_tail = SkipTail::digits;
  } else if (c == '+' && m_skip_tail == SkipTail::digits) {
    m_skip_tail = SkipTail::plus;
  } else if (c == '}' && m_skip_tail == SkipTail::plus) {
    m_skip_tail = SkipTail::close;
  } else if (c == '\r' && m_skip_tail == SkipTail::close) {
    // "{n+}" CR: still the end of the line.
  } else {
    m_skip_tail = SkipTail::none;
  }
  return {Status::need_more, consumed, {}};
}

CommandParser::Step CommandParser::finish_line(std::size_t consumed) {
  m_result = std::move(m_command);
  m_command = Command{};
  m_state = State::ready;
  return {Status::command_ready, consumed, {}};
}

// CR or LF where the command may end.
CommandParser::Step CommandParser::end_of_line(char c, std::size_t consumed) {
  if (m_depth != 0) {
    return invalid("unbalanced parentheses", c, consumed);
  }
  if (c == '\r') {
    m_state = State::line_cr;
    return {Status::need_more, consumed, {}};
  }
  return finish_line(consumed);
}

CommandParser::Step CommandParser::close_list(std::size_t consumed) {
  if (m_depth == 0) {
    return invalid("unbalanced parentheses", ')', consumed);
  }
  --m_depth;
  m_state = State::after_arg;
  return {Status::need_more, consumed, {}};
}

CommandParser::Step CommandParser::literal_header_done(std::size_t consumed) {
  if (m_literal_size > m_limits.max_command - std::min(m_command_bytes, m_limits.max_command)) {
    return fail("command too long", consumed);
  }
  // Literal data is not part of any line; the next line starts after it.
  m_line_bytes = 0;
  m_state = m_literal_size == 0 ? State::after_arg : State::literal_data;
  if (!m_literal_plus) {
    return {Status::need_continuation, consumed, {}};
  }
  return {Status::need_more, consumed, {}};
}

// Literal data from data[pos...]; advances pos.
CommandParser::Step CommandParser::consume_literal(std::string_view data, std::size_t& pos) {
  const std::size_t n =
      static_cast<std::size_t>(std::min<std::uint64_t>(m_literal_size, data.size() - pos));
  const std::string_view chunk = data.substr(pos, n);
  if (chunk.find('\0') != std::string_view::npos) {
    m_nul_in_literal = true;
  }
  if (!m_nul_in_literal) {
    current_list().back().value.append(chunk);
  }
  m_literal_size -= n;
  m_command_bytes += n;
  pos += n;
  if (m_literal_size == 0) {
    if (m_nul_in_literal) {
      // The literal's bytes are spent; the rest of its line is skipped.
      m_skip_reason = "NUL in a literal";
      m_skip_tail = SkipTail::none;
      m_state = State::skip;
    } else {
      m_state = State::after_arg;
    }
  }
  return {Status::need_more, pos, {}};
}

CommandParser::Step CommandParser::feed(std::string_view data) {
  if (m_state == State::ready) {
    return {Status::command_ready, 0, {}};
  }
  if (m_state == State::failed) {
    return {Status::too_long, 0, m_fail_reason};
  }
  std::size_t pos = 0;
  while (pos < data.size()) {
    if (m_state == State::literal_data) {
      consume_literal(data, pos);
      continue;
    }
    const Step step = consume_byte(data[pos], pos + 1);
    ++pos;
    if (step.status != Status::need_more) {
      return step;
    }
  }
  return {Status::need_more, data.size(), {}};
}

CommandParser::Step CommandParser::consume_byte(char c, std::size_t consumed) {
  ++m_line_bytes;
  ++m_command_bytes;
  if (c != '\n' && m_line_bytes >= m_limits.max_line) {
    return fail("line too long", consumed);
  }
  if (m_command_bytes > m_limits.max_command) {
    return fail("command too long", consumed);
  }
  const Step more{Status::need_more, consumed, {}};
  switch (m_state) {
    case State::tag_start:
      // First byte of a command: a tag char.
      if (c == '\r' || c == '\n') {
        return invalid("empty command line", c, consumed);
      }
      if (!is_tag_char(c)) {
        return invalid("invalid tag", c, consumed);
      }
      m_command.tag.push_back(c);
      m_state = State::tag;
      return more;
    case State::tag:
      // More tag chars, then SP.
      if (c == ' ') {
        m_tag_done = true;
        m_state = State::name_start;
        return more;
      }
      if (c == '\r' || c == '\n') {
        m_tag_done = true;  // a whole tag, for "<tag> BAD"
        return invalid("missing command name", c, consumed);
      }
      if (!is_tag_char(c)) {
        return invalid("invalid tag", c, consumed);
      }
      if (m_command.tag.size() >= m_limits.max_tag) {
        return fail("tag too long", consumed);
      }
      m_command.tag.push_back(c);
      return more;
    case State::name_start:
      // Spaces, then the command name.
      if (c == ' ') {
        return more;
      }
      if (c == '\r' || c == '\n') {
        return invalid("missing command name", c, consumed);
      }
      if (!is_atom_char(c)) {
        return invalid("invalid command name", c, consumed);
      }
      m_command.name.push_back(core::ascii_upper(c));
      m_state = State::name;
      return more;
    case State::name:
      // Command name chars; SP or the line end.
      if (is_atom_char(c)) {
        m_command.name.push_back(core::ascii_upper(c));
        return more;
      }
      if (c == ' ') {
        m_name_done = true;
        m_state = State::arg_start;
        return more;
      }
      if (c == '\r' || c == '\n') {
        m_name_done = true;
        return end_of_line(c, consumed);
      }
      return invalid("invalid command name", c, consumed);
    case State::arg_start:
      // Spaces, then an argument, ")" or the line end.
      switch (c) {
        case ' ':
          return more;
        case '"':
          if (const std::string_view limit = begin_arg(Arg::Kind::string); !limit.empty()) {
            return fail(limit, consumed);
          }
          m_state = State::quoted;
          return more;
        case '{':
          if (const std::string_view limit = begin_arg(Arg::Kind::string); !limit.empty()) {
            return fail(limit, consumed);
          }
          m_literal_size = 0;
          m_literal_plus = false;
          m_state = State::literal_open;
          return more;
        case '(':
          if (m_depth >= m_limits.max_list_depth) {
            return fail("lists nested too deeply", consumed);
          }
          if (const std::string_view limit = begin_arg(Arg::Kind::list); !limit.empty()) {
            return fail(limit, consumed);
          }
          ++m_depth;
          return more;
        case ')':
          return close_list(consumed);
        case '\r':
        case '\n':
          return end_of_line(c, consumed);
        default:
          break;
      }
      if (!is_atom_char(c)) {
        return invalid(unexpected(c), c, consumed);
      }
      if (const std::string_view limit = begin_arg(Arg::Kind::atom); !limit.empty()) {
        return fail(limit, consumed);
      }
      current_list().back().value.push_back(c);
      m_state = State::atom;
      return more;
    case State::atom:
      // Atom chars; SP, ")" or the line end ends the atom.
      if (is_atom_char(c)) {
        current_list().back().value.push_back(c);
        return more;
      }
      if (c != ' ' && c != ')' && c != '\r' && c != '\n') {
        return invalid(unexpected(c), c, consumed);
      }
      if (Arg& atom = current_list().back(); is_nil(atom.value)) {
        atom.kind = Arg::Kind::nil;
      }
      if (c == ' ') {
        m_state = State::arg_start;
        return more;
      }
      if (c == ')') {
        return close_list(consumed);
      }
      return end_of_line(c, consumed);
    case State::quoted:
      // Inside a quoted string.
      switch (c) {
        case '"':
          m_state = State::after_arg;
          return more;
        case '\\':
          m_state = State::quoted_escape;
          return more;
        case '\0':
          return invalid("NUL in a quoted string", c, consumed);
        case '\r':
        case '\n':
          return invalid("unterminated quoted string", c, consumed);
        default:
          current_list().back().value.push_back(c);
          return more;
      }
    case State::quoted_escape:
      // After "\": only DQUOTE and "\" may be escaped.
      if (c != '"' && c != '\\') {
        return invalid("invalid escape in a quoted string", c, consumed);
      }
      current_list().back().value.push_back(c);
      m_state = State::quoted;
      return more;
    case State::literal_open:
      // After "{": the first digit.
      if (!is_digit(c)) {
        return invalid("invalid literal", c, consumed);
      }
      m_literal_size = static_cast<std::uint64_t>(c - '0');
      m_state = State::literal_digits;
      if (m_literal_size > m_limits.max_literal) {
        return fail("literal too big", consumed);
      }
      return more;
    case State::literal_digits:
      // Digits, then "+" or "}".
      if (is_digit(c)) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (m_literal_size > (m_limits.max_literal - digit) / 10 || digit > m_limits.max_literal) {
          return fail("literal too big", consumed);
        }
        m_literal_size = m_literal_size * 10 + digit;
        return more;
      }
      if (c == '+') {
        m_literal_plus = true;
        m_state = State::literal_plus;
        return more;
      }
      if (c == '}') {
        m_state = State::literal_close;
        return more;
      }
      return invalid("invalid literal", c, consumed);
    case State::literal_plus:
      // After "+": "}".
      if (c != '}') {
        return invalid("invalid literal", c, consumed);
      }
      m_state = State::literal_close;
      return more;
    case State::literal_close:
      // After "}": the line end.
      if (c == '\r') {
        m_state = State::literal_cr;
        return more;
      }
      if (c == '\n') {
        return literal_header_done(consumed);
      }
      return invalid("literal not at the end of a line", c, consumed);
    case State::literal_cr:
      // After "}" CR: LF.
      if (c != '\n') {
        return invalid("CR without LF", c, consumed);
      }
      return literal_header_done(consumed);
    case State::after_arg:
      // After a string, literal or list: SP, ")" or the line end.
      if (c == ' ') {
        m_state = State::arg_start;
        return more;
      }
      if (c == ')') {
        return close_list(consumed);
      }
      if (c == '\r' || c == '\n') {
        return end_of_line(c, consumed);
      }
      return invalid("missing space between arguments", c, consumed);
    case State::line_cr:
      // After CR at the end of the command: LF.
      if (c != '\n') {
        return invalid("CR without LF", c, consumed);
      }
      return finish_line(consumed);
    case State::skip:
      // Invalid command: skipping to LF.
      return skip_byte(c, consumed);
    case State::literal_data:
    case State::ready:
    case State::failed:
      // Handled in feed().
      break;
  }
  return more;
}

}  // namespace zmproxy::proxy::imap

#include "lib/proxy/imap/response_parser.hpp"

#include <algorithm>
#include <utility>

#include "lib/core/strings.hpp"

namespace zmproxy::proxy::imap {

namespace {

// As CommandParser's tag: 0x21-0x7E except ( ) { % * " \ +.
bool is_tag_char(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x21 || u > 0x7e) {
    return false;
  }
  return std::string_view("(){%*\"\\+").find(c) == std::string_view::npos;
}

std::string_view strip_line_end(std::string_view line) noexcept {
  if (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
  }
  return line;
}

// The n of a "{n}" or "{n+}" at the end of `line` (line end already stripped),
// or nullopt. Values above `cap` come back as cap + 1.
std::optional<std::uint64_t> trailing_literal(std::string_view line, std::uint64_t cap) {
  if (line.empty() || line.back() != '}') {
    return std::nullopt;
  }
  line.remove_suffix(1);
  if (!line.empty() && line.back() == '+') {
    line.remove_suffix(1);
  }
  const std::size_t open = line.rfind('{');
  if (open == std::string_view::npos || open + 1 == line.size()) {
    return std::nullopt;
  }
  const std::string_view digits = line.substr(open + 1);
  std::uint64_t n = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    if (n <= cap) {
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
  }
  return std::min(n, cap + 1);
}

}  // namespace

bool Response::is_status() const noexcept {
  return kind != Kind::continuation && (status == "OK" || status == "NO" || status == "BAD" ||
                                        status == "PREAUTH" || status == "BYE");
}

void ResponseParser::reset() noexcept {
  m_state = State::line;
  m_raw.clear();
  m_line_start = 0;
  m_literal_left = 0;
  m_nul = false;
  m_fail_reason = {};
  m_result = Response{};
}

Response ResponseParser::take() {
  if (m_state == State::ready) {
    m_state = State::line;
  }
  return mail::take_result(m_result);
}

ResponseParser::Step ResponseParser::fail(std::string_view reason, std::size_t consumed) {
  m_state = State::failed;
  m_fail_reason = reason;
  m_raw.clear();
  return {Status::too_long, consumed, reason};
}

ResponseParser::Step ResponseParser::feed(std::string_view data) {
  if (m_state == State::ready) {
    return {Status::response_ready, 0, {}};
  }
  if (m_state == State::failed) {
    return {Status::too_long, 0, m_fail_reason};
  }
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::string_view rest = data.substr(pos);
    if (m_state == State::literal_data) {
      // n bytes of literal data; the header check keeps them within the limit.
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(m_literal_left, rest.size()));
      m_raw.append(rest.substr(0, n));
      m_literal_left -= n;
      pos += n;
      if (m_literal_left == 0) {
        m_state = State::line;
        m_line_start = m_raw.size();
      }
      continue;
    }
    // A line, up to LF, within what is left of the limit.
    const std::size_t budget = m_limits.max_response - m_raw.size();
    const std::size_t lf = rest.substr(0, std::min(budget, rest.size())).find('\n');
    if (lf == std::string_view::npos) {
      if (rest.size() >= budget) {
        return fail("response too long", pos + budget);
      }
      m_nul = m_nul || rest.find('\0') != std::string_view::npos;
      m_raw.append(rest);
      return {Status::need_more, data.size(), {}};
    }
    const std::string_view line = rest.substr(0, lf + 1);
    m_nul = m_nul || line.find('\0') != std::string_view::npos;
    m_raw.append(line);
    pos += lf + 1;
    const Step step = end_of_line(pos);
    if (step.status != Status::need_more) {
      return step;
    }
  }
  return {Status::need_more, data.size(), {}};
}

// A line is complete: a literal follows, or the response is whole.
ResponseParser::Step ResponseParser::end_of_line(std::size_t consumed) {
  const std::string_view line = strip_line_end(std::string_view(m_raw).substr(m_line_start));
  const std::size_t room = m_limits.max_response - std::min(m_raw.size(), m_limits.max_response);
  const std::optional<std::uint64_t> literal = trailing_literal(line, room);
  if (!literal) {
    return classify(consumed);
  }
  // At least one more line must follow the literal's data.
  if (*literal >= room) {
    return fail("literal too big", consumed);
  }
  m_literal_left = *literal;
  m_line_start = m_raw.size();
  m_state = m_literal_left == 0 ? State::line : State::literal_data;
  return {Status::need_more, consumed, {}};
}

ResponseParser::Step ResponseParser::classify(std::size_t consumed) {
  Response r;
  r.raw = std::move(m_raw);
  m_raw.clear();
  m_line_start = 0;
  const bool nul = m_nul;
  m_nul = false;
  const std::string_view body = strip_line_end(r.raw);
  const auto done = [&](std::string_view reason) -> Step {
    m_result = std::move(r);
    if (!reason.empty()) {
      m_state = State::line;
      return {Status::invalid, consumed, reason};
    }
    m_state = State::ready;
    return {Status::response_ready, consumed, {}};
  };

  if (nul) {
    return done("NUL in a response");
  }
  if (body.empty()) {
    return done("empty line");
  }
  if (body[0] == '+') {
    r.kind = Response::Kind::continuation;
    r.tag = "+";
    std::string_view text = body.substr(1);
    if (!text.empty() && text[0] == ' ') {
      text.remove_prefix(1);
    }
    r.text.assign(text);
    return done({});
  }
  const std::size_t sp = body.find(' ');
  const std::string_view tag = body.substr(0, sp);
  if (tag == "*") {
    r.kind = Response::Kind::untagged;
  } else if (std::all_of(tag.begin(), tag.end(), is_tag_char)) {
    r.kind = Response::Kind::tagged;
  } else {
    return done("invalid tag");
  }
  r.tag.assign(tag);
  if (sp == std::string_view::npos) {
    return done("missing status");
  }
  const std::string_view after = body.substr(sp + 1);
  const std::size_t word_end = after.find(' ');
  const std::string_view word = after.substr(0, word_end);
  if (word.empty() || word.find_first_of("\r\n") != std::string_view::npos) {
    return done("missing status");
  }
  r.status.reserve(word.size());
  for (const char c : word) {
    r.status.push_back(core::ascii_upper(c));
  }
  if (word_end != std::string_view::npos) {
    r.text.assign(after.substr(word_end + 1));
  }
  return done({});
}

std::optional<std::string> response_code(std::string_view text) { return mail::bracketed_code(text); }

}  // namespace zmproxy::proxy::imap

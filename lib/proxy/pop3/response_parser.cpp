#include "lib/proxy/pop3/response_parser.hpp"

#include <algorithm>
#include <utility>

#include "lib/core/strings.hpp"

namespace zmproxy::proxy::pop3 {

namespace {

using core::iequals;

// `line` starts with `indicator` followed by the end or SP: the text after it.
std::optional<std::string_view> after_indicator(std::string_view line, std::string_view indicator) {
  if (line.substr(0, indicator.size()) != indicator) {
    return std::nullopt;
  }
  line.remove_prefix(indicator.size());
  if (line.empty()) {
    return line;
  }
  if (line[0] != ' ') {
    return std::nullopt;
  }
  return line.substr(1);
}

}  // namespace

ResponseParser::ResponseParser(const Limits& limits) noexcept : m_limits(limits) {
  m_limits.max_line = std::max<std::size_t>(m_limits.max_line, 1);
}

void ResponseParser::reset() noexcept {
  m_state = State::reading;
  m_raw.clear();
  m_result = Response{};
}

Response ResponseParser::take() {
  if (m_state == State::ready) {
    m_state = State::reading;
  }
  return mail::take_result(m_result);
}

ResponseParser::Step ResponseParser::feed(std::string_view data) {
  switch (m_state) {
    case State::ready:
      // A response waits for take().
      return {Status::response_ready, 0, {}};
    case State::failed:
      // Over the limit earlier: final until reset().
      return {Status::too_long, 0, "response line too long"};
    case State::reading:
      break;
  }
  const std::size_t budget = m_limits.max_line - m_raw.size();
  const std::string_view window = data.substr(0, std::min(budget, data.size()));
  const std::size_t lf = window.find('\n');
  if (lf != std::string_view::npos) {
    m_raw.append(window.substr(0, lf + 1));
    return finish_line(lf + 1);
  }
  if (data.size() >= budget) {
    m_raw.clear();
    m_state = State::failed;
    return {Status::too_long, budget, "response line too long"};
  }
  m_raw.append(data);
  return {Status::need_more, data.size(), {}};
}

ResponseParser::Step ResponseParser::finish_line(std::size_t consumed) {
  Response r;
  r.raw = std::move(m_raw);
  m_raw.clear();
  std::string_view line = r.raw;
  line.remove_suffix(1);  // LF
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  std::string_view reason;
  if (line.find('\0') != std::string_view::npos) {
    reason = "NUL in a response";
  } else if (const auto ok = after_indicator(line, "+OK")) {
    r.kind = Response::Kind::ok;
    r.text.assign(*ok);
  } else if (const auto err = after_indicator(line, "-ERR")) {
    r.kind = Response::Kind::err;
    r.text.assign(*err);
  } else if (const auto more = after_indicator(line, "+")) {
    r.kind = Response::Kind::continuation;
    r.text.assign(*more);
  } else {
    reason = "not a POP3 response";
  }
  m_result = std::move(r);
  if (!reason.empty()) {
    return {Status::invalid, consumed, reason};
  }
  m_state = State::ready;
  return {Status::response_ready, consumed, {}};
}

std::optional<std::string> response_code(std::string_view text) { return mail::bracketed_code(text); }

bool greeting_offers(std::string_view greeting, std::string_view capability) {
  if (capability.empty()) {
    return false;
  }
  while (!greeting.empty() && (greeting.back() == '\n' || greeting.back() == '\r')) {
    greeting.remove_suffix(1);
  }
  if (const auto text = after_indicator(greeting, "+OK")) {
    greeting = *text;
  }
  const std::optional<std::string> code = response_code(greeting);
  if (!code) {
    return false;
  }
  std::string_view words = *code;
  while (!words.empty()) {
    const std::size_t sp = words.find(' ');
    if (iequals(words.substr(0, sp), capability)) {
      return true;
    }
    if (sp == std::string_view::npos) {
      break;
    }
    words.remove_prefix(sp + 1);
  }
  return false;
}

}  // namespace zmproxy::proxy::pop3

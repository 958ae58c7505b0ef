#include "lib/proxy/mail/line_reader.hpp"

#include <algorithm>

namespace zmproxy::proxy::mail {

LineReader::LineReader(std::size_t max_line) noexcept
    : m_max_line(std::max<std::size_t>(max_line, 1)) {}

LineReader::Step LineReader::feed(std::string_view data) {
  switch (m_state) {
    case State::ready:
      // A line waits for take().
      return {Status::line_ready, 0};
    case State::failed:
      // Over the limit earlier: final until reset().
      return {Status::too_long, 0};
    case State::reading:
      break;
  }
  // The LF may sit at most at index (m_max_line - 1) of the whole line.
  const std::size_t budget = m_max_line - m_line.size();
  const std::size_t window = std::min(budget, data.size());
  const std::size_t lf = data.substr(0, window).find('\n');
  if (lf != std::string_view::npos) {
    m_line.append(data.substr(0, lf));
    if (!m_line.empty() && m_line.back() == '\r') {
      m_line.pop_back();
    }
    m_state = State::ready;
    return {Status::line_ready, lf + 1};
  }
  if (data.size() >= budget) {
    // `budget` bytes without an LF: the line cannot end within the limit.
    m_line.clear();
    m_state = State::failed;
    return {Status::too_long, budget};
  }
  m_line.append(data);
  return {Status::need_more, data.size()};
}

std::string LineReader::take() {
  if (m_state != State::ready) {
    return {};
  }
  m_state = State::reading;
  std::string line;
  line.swap(m_line);
  return line;
}

void LineReader::reset() noexcept {
  m_state = State::reading;
  m_line.clear();
}

}  // namespace zmproxy::proxy::mail

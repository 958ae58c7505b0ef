#pragma once
// ResponseParser: the upstream mailbox's IMAP responses while the proxy logs
// in (greeting, ID, LOGIN/AUTHENTICATE), one whole response at a time. Pure
// (standard library only), incremental, with a size limit.
//
// Framing comes first and never depends on content: a response is a line
// ended by LF (CRLF or bare LF); when the line ends with a literal header
// "{n}" or "{n+}" (before the CR LF), the next n bytes are literal data and
// the response goes on with another line after them (RFC 3501 §4.3, §7.5).
// Then the whole frame is classified:
//   "+" [SP text]                    continuation   (tag "+", status "")
//   "*" SP word [SP text]            untagged       (tag "*")
//   tag SP word [SP text]            tagged
// `status` is `word` upper-cased: OK, NO, BAD, PREAUTH or BYE for status
// responses (is_status()), else the data name (CAPABILITY, ID, ...) or a
// number ("* 3 EXISTS" -> status "3", text "EXISTS"). `text` is the rest of
// the response after one SP, its final line end removed; a literal inside it
// is kept verbatim ("{5}\r\nhello"). `raw` is the exact bytes of the frame.
//
// Statuses of feed():
//   need_more       every byte consumed, no whole response yet
//   response_ready  `consumed` ends after the response; take() it
//   invalid         a whole frame was read but is not a response (empty line,
//                   no word after the tag, a tag with bad characters, NUL
//                   outside literals); take() still gives it (raw, kind
//                   tagged) and the parser goes on with the next one
//   too_long        a response (frame, literals included) over max_response,
//                   or a literal length that overflows it: final (the upstream
//                   is broken; close it). consumed stops at the offending byte.
// The result never depends on how the bytes were chunked.
//
// Thread affinity: none; a value type, one per upstream connection.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/proxy/mail/parse_step.hpp"

namespace zmproxy::proxy::imap {

struct Response {
  enum class Kind { untagged, continuation, tagged };
  Kind kind = Kind::tagged;
  std::string tag;     // "*", "+" or the command's tag
  std::string status;  // upper-case first word; "" for a continuation
  std::string text;    // after the status and one SP, final CR LF removed
  std::string raw;     // exact bytes, CR LF and any literals included

  // OK, NO, BAD, PREAUTH or BYE.
  bool is_status() const noexcept;
  bool operator==(const Response&) const = default;
};

class ResponseParser {
 public:
  struct Limits {
    std::size_t max_response = 65536;  // 64 KiB
  };
  enum class Status { need_more, response_ready, invalid, too_long };
  using Step = mail::ParseStep<Status>;

  ResponseParser() noexcept : ResponseParser(Limits{}) {}
  explicit ResponseParser(const Limits& limits) noexcept : m_limits(limits) {}

  Step feed(std::string_view data);
  // The response after response_ready or invalid.
  Response take();
  void reset() noexcept;

  const Limits& limits() const noexcept { return m_limits; }

 private:
  enum class State : std::uint8_t {
    line,          // bytes of a line, up to LF
    literal_data,  // n bytes after a literal header
    ready,         // a response waits for take()
    failed,        // too_long: final until reset()
  };
  Step end_of_line(std::size_t consumed);
  Step classify(std::size_t consumed);
  Step fail(std::string_view reason, std::size_t consumed);

  Limits m_limits;
  State m_state = State::line;
  std::string m_raw;
  std::size_t m_line_start = 0;  // offset in m_raw of the current line
  std::uint64_t m_literal_left = 0;
  bool m_nul = false;  // NUL outside literal data
  Response m_result;
  std::string_view m_fail_reason;
};

// The text of a response code at the start of `text` ("[CODE args] rest" ->
// "CODE args"), or nullopt. E.g. "CAPABILITY IMAP4rev1 ..." from
// "[CAPABILITY IMAP4rev1 ...] Logged in".
std::optional<std::string> response_code(std::string_view text);

}  // namespace zmproxy::proxy::imap

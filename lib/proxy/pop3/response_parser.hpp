#pragma once
// ResponseParser: the upstream POP3 server's single-line responses while the
// proxy logs in (greeting, XOIP/XCLIENT, USER, PASS, AUTH): "+OK [text]",
// "-ERR [text]" (RFC 1939 §3; upper case, as the RFC requires) and the SASL
// continuation "+ [base64]" or "+" (RFC 5034 §4). Multi-line responses (CAPA,
// LIST, ...) are not read here: after login the proxy relays bytes.
// Pure (standard library only), incremental, with a line limit.
//
// Statuses of feed():
//   need_more       every byte consumed, no whole line yet
//   response_ready  `consumed` ends after the LF (CRLF or bare LF); take() it
//   invalid         a whole line that is none of the three forms, or has a
//                   NUL; take() gives it (kind err, raw set). The parser goes on
//   too_long        a line over max_line (CR LF included). Final until reset().
// RFC 2449 §4 caps a first response line at 512 octets; the default limit is
// larger, since servers exceed it with long texts and SASL challenges.
//
// Thread affinity: none; a value type, one per upstream connection.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/proxy/mail/parse_step.hpp"

namespace zmproxy::proxy::pop3 {

struct Response {
  enum class Kind { ok, err, continuation };
  Kind kind = Kind::err;
  std::string text;  // after the indicator and one SP, CR LF removed
  std::string raw;   // exact bytes, line end included

  bool operator==(const Response&) const = default;
};

class ResponseParser {
 public:
  struct Limits {
    std::size_t max_line = 8192;
  };
  enum class Status { need_more, response_ready, invalid, too_long };
  using Step = mail::ParseStep<Status>;

  ResponseParser() noexcept : ResponseParser(Limits{}) {}
  explicit ResponseParser(const Limits& limits) noexcept;

  Step feed(std::string_view data);
  Response take();
  void reset() noexcept;

 private:
  enum class State : std::uint8_t { reading, ready, failed };
  Step finish_line(std::size_t consumed);

  Limits m_limits;
  State m_state = State::reading;
  std::string m_raw;
  Response m_result;
};

// The response code at the start of a response's text (RFC 2449 §8):
// "[IN-USE] Do you have another POP session running?" -> "IN-USE";
// "[SYS/TEMP] ..." -> "SYS/TEMP". nullopt if there is none.
std::optional<std::string> response_code(std::string_view text);

// Whether a greeting ("+OK [XCLIENT] Dovecot ready." with or without "+OK "
// and the line end) lists `capability` in a bracketed group at the start of
// its text, e.g. Dovecot's "[XCLIENT]". Words in the group are separated by
// spaces and compared case-insensitively.
bool greeting_offers(std::string_view greeting, std::string_view capability);

}  // namespace zmproxy::proxy::pop3

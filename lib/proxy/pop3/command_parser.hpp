#pragma once
// CommandParser: POP3 client commands before authentication (RFC 1939 USER,
// PASS, QUIT, NOOP; RFC 2449 CAPA; RFC 2595 STLS; RFC 5034 AUTH with an
// initial response). Pure (standard library only), incremental, with explicit
// limits; the output owns its strings.
//
// A command is one line: keyword [SP arguments] CRLF (a bare LF is accepted
// too). The keyword (1* of 0x21-0x7E) is case-insensitive and upper-cased in
// the output. `rest` is the raw text after the keyword and ONE space, exactly
// as sent: PASS takes it whole as the password, spaces included (RFC 1939
// §7 in practice). `args` is `rest` split at spaces, empty pieces dropped
// (runs of spaces are tolerated, as nginx does). Bytes other than NUL and a
// CR that does not end the line are accepted (UTF-8 passwords exist); the
// session validates arguments for its own use.
//
// Limits: max_line (RFC 2449 §4: 255 octets, CR LF included) for ordinary
// commands; max_auth_line for an AUTH line (initial responses carry OAuth
// tokens; nginx's 128-byte buffer breaks those). Whether a line is an AUTH
// line is decided by its first five bytes ("AUTH " in any case), so the limit
// never depends on chunking. SASL continuation responses (base64 tokens) are
// plain lines: read them with mail::LineReader(max_auth_line).
//
// Statuses of feed():
//   need_more      every byte consumed, no whole line yet
//   command_ready  `consumed` ends after the LF; bytes after it (pipelining,
//                  RFC 2449 PIPELINING; plaintext after STLS that the caller
//                  drops) stay with the caller. take() it.
//   invalid        the line (consumed whole) is not a command: empty, a bad
//                  keyword, NUL or a bare CR. The parser goes on.
//   too_long       a line over its limit. Final: reply "-ERR" and close;
//                  later feeds return too_long, consumed 0, until reset().
// `reason` is a short static English text for invalid and too_long.
//
// Thread affinity: none; a value type, one per connection.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/proxy/mail/parse_step.hpp"

namespace zmproxy::proxy::pop3 {

struct Command {
  std::string name;  // upper-case keyword
  std::vector<std::string> args;
  std::string rest;  // raw text after the keyword and one space

  bool operator==(const Command&) const = default;
};

class CommandParser {
 public:
  struct Limits {
    std::size_t max_line = 255;
    std::size_t max_auth_line = 8192;
  };
  enum class Status { need_more, command_ready, invalid, too_long };
  using Step = mail::ParseStep<Status>;

  CommandParser() noexcept : CommandParser(Limits{}) {}
  explicit CommandParser(const Limits& limits) noexcept;

  Step feed(std::string_view data);
  // The command after command_ready; the parser starts on the next line.
  Command take();
  void reset() noexcept;

  const Limits& limits() const noexcept { return m_limits; }

 private:
  enum class State : std::uint8_t { reading, ready, failed };
  std::size_t line_limit() const noexcept;
  Step finish_line(std::size_t consumed);

  Limits m_limits;
  State m_state = State::reading;
  std::string m_line;  // the line so far, LF excluded
  Command m_result;
  std::string_view m_fail_reason;
};

// A command line for the upstream ("USER bob\r\n", "PASS s e c\r\n", or
// "QUIT\r\n" for an empty argument): keyword SP argument CR LF. nullopt
// when the keyword is not 1* of 0x21-0x7E, the argument has CR, LF or NUL
// (it could not be sent safely), or the line would exceed `max_line` octets
// (CR LF included; pass max_auth_line for AUTH lines).
std::optional<std::string> format_command(std::string_view keyword,
                                          std::string_view argument,
                                          std::size_t max_line = 255);

}  // namespace zmproxy::proxy::pop3

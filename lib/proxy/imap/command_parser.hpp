#pragma once
// CommandParser: IMAP client commands before authentication (RFC 3501 §9,
// RFC 9051 §9, LITERAL+ RFC 7888, ID RFC 2971). Pure (standard library only),
// incremental, with explicit limits; the output owns its strings.
//
// Grammar read:  tag SP command-name [SP arguments] CRLF
//   tag       1*32 of 0x21-0x7E except ( ) { % * " \ +     (RFC 3501 "tag")
//   name      an atom, upper-cased in the output
//   argument  atom | quoted | literal | NIL | "(" [argument *(SP argument)] ")"
//   atom      1* of 0x21-0x7E except ( ) { " \      ("%", "*", "]" allowed, as
//             astring and list-mailbox chars); 8-bit bytes are NOT allowed
//   quoted    DQUOTE *(byte except NUL CR LF DQUOTE \ | "\" DQUOTE | "\\") DQUOTE;
//             8-bit bytes are kept as they are (RFC 9051 / RFC 6855 UTF-8)
//   literal   "{" 1*10 DIGIT ["+"] "}" CRLF <n bytes, any but NUL>
//   NIL       the atom NIL in any case
// Leniencies, as nginx: runs of spaces separate tokens, spaces before the line
// end are ignored, and a bare LF ends a line as CRLF does. A CR not followed
// by LF is invalid.
//
// Limits (the Limits struct): max_line counts each line of the command, its
// CR LF included, literal data excluded (RFC 7162 §4); literals are capped one
// by one by max_literal and the whole command (lines and literals) by
// max_command. max_args caps top-level arguments and max_list_items all
// elements inside lists together (so ID's 30 pairs fit); max_list_depth caps
// nesting. A breach is too_long.
//
// Statuses of feed():
//   need_more          every byte consumed, the command is not complete yet
//   command_ready      `consumed` ends just after the command's LF: bytes after
//                      it (pipelined commands, or plaintext after STARTTLS that
//                      the caller must drop) stay with the caller. take() it.
//   need_continuation  a synchronising literal's header "{n}CRLF" was read and
//                      accepted (within limits): the caller sends "+ ..." and
//                      feeds on; the next n bytes are literal data, never parsed
//   invalid            the command is malformed; the parser has skipped to the
//                      end of that line (its LF is consumed) and is ready for
//                      the next command. take() gives what was read of it (the
//                      tag, if valid, for "<tag> BAD"; otherwise an empty tag
//                      for "* BAD"). A literal header at the end of the bad
//                      line is NOT honoured (nginx does the same): after a
//                      synchronising one the client waits for "+" and gets the
//                      BAD instead (RFC 3501 §7.5).
//   too_long           a limit was breached, or an invalid line ended with a
//                      non-synchronising literal "{n+}" whose bytes cannot be
//                      told from commands (nginx closes then too). Final: the
//                      caller answers ("<tag> BAD" / "* BAD [TOOBIG]") and
//                      closes. Later feeds return too_long, consumed 0, until
//                      reset(). take() gives what was read (the tag).
// `reason` is a short static English text for invalid and too_long.
// The result never depends on how the bytes were chunked.
//
// Thread affinity: none; a value type (copyable), one per connection.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/proxy/mail/parse_step.hpp"

namespace zmproxy::proxy::imap {

struct Arg {
  enum class Kind { atom, string, nil, list };
  Kind kind = Kind::atom;
  // atom: its text as sent; string: the exact bytes of the quoted string
  // (unescaped) or the literal; nil: the atom as sent ("NIL", "nil", ...);
  // list: empty.
  std::string value;
  std::vector<Arg> children;  // list elements

  bool operator==(const Arg&) const = default;
};

struct Command {
  std::string tag;
  std::string name;  // upper-case
  std::vector<Arg> args;

  bool operator==(const Command&) const = default;
};

class CommandParser {
 public:
  enum class Status { need_more, command_ready, need_continuation, invalid, too_long };
  using Step = mail::ParseStep<Status>;

  struct Limits {
    std::size_t max_line = 8192;
    std::size_t max_tag = 32;
    std::size_t max_literal = 65536;
    std::size_t max_args = 32;
    std::size_t max_list_items = 64;
    std::size_t max_list_depth = 4;
    std::size_t max_command = 131072;
  };

  CommandParser() noexcept : CommandParser(Limits{}) {}
  explicit CommandParser(const Limits& limits) noexcept;

  Step feed(std::string_view data);
  // Drop everything and start on a new command (e.g. after STARTTLS).
  void reset() noexcept;
  // The command after command_ready (or the partial one after invalid or
  // too_long); the parser starts on the next command.
  Command take();

  const Limits& limits() const noexcept { return m_limits; }
  // True between commands: nothing of a next command has been read.
  bool idle() const noexcept { return m_state == State::tag_start && m_command_bytes == 0; }

 private:
  enum class State : std::uint8_t {
    tag_start,       // first byte of a command: a tag char
    tag,             // more tag chars, or SP
    name_start,      // spaces, then the command name's first char
    name,            // command name chars, SP or line end
    arg_start,       // spaces, then an argument, ")" or line end
    atom,            // atom chars
    quoted,          // inside a quoted string
    quoted_escape,   // after "\" inside a quoted string
    literal_open,    // after "{": the first digit
    literal_digits,  // digits, "+" or "}"
    literal_plus,    // after "+": "}"
    literal_close,   // after "}": CR or LF
    literal_cr,      // after "}" CR: LF
    literal_data,    // n bytes of data
    after_arg,       // after a quoted string, literal or list: SP, ")" or line end
    line_cr,         // after CR at the end of the command: LF
    skip,            // invalid: skipping to LF
    ready,           // a command waits for take()
    failed,          // too_long: final until reset()
  };
  // Scanning for a "{n+}" at the end of a skipped line.
  enum class SkipTail : std::uint8_t { none, open, digits, plus, close };

  Step consume_byte(char c, std::size_t consumed);
  Step consume_literal(std::string_view data, std::size_t& pos);
  Step literal_header_done(std::size_t consumed);
  Step fail(std::string_view reason, std::size_t consumed);
  Step invalid(std::string_view reason, char c, std::size_t consumed);
  Step skip_byte(char c, std::size_t consumed);
  Step finish_line(std::size_t consumed);
  Step end_of_line(char c, std::size_t consumed);
  Step close_list(std::size_t consumed);
  std::string_view begin_arg(Arg::Kind kind);
  std::vector<Arg>& current_list();
  Command partial_command();
  void start_command() noexcept;

  Limits m_limits;
  State m_state = State::tag_start;
  Command m_command;                // being read
  Command m_result;                 // for take()
  bool m_tag_done = false;          // the tag was read whole
  bool m_name_done = false;         // the command name was read whole
  std::string_view m_fail_reason;   // too_long's reason, repeated while failed
  std::size_t m_depth = 0;          // open lists
  std::size_t m_list_items = 0;     // elements inside lists, all levels
  std::size_t m_line_bytes = 0;     // bytes of the current line (literal data excluded)
  std::size_t m_command_bytes = 0;  // bytes of the current command
  std::uint64_t m_literal_size = 0;
  bool m_literal_plus = false;
  bool m_nul_in_literal = false;
  SkipTail m_skip_tail = SkipTail::none;
  std::string_view m_skip_reason;
};

// A value as an IMAP astring for commands the proxy sends upstream:
//  - a quoted string "..." (with \" and \\ escaped) when every byte is
//    0x01-0x7F other than CR and LF and it is at most 1024 bytes long;
//  - otherwise a synchronising literal "{n}\r\n<bytes>" (or "{n+}\r\n<bytes>"
//    when literal_plus is true). The caller of a synchronising form must wait
//    for the server's "+" after the "\r\n". NUL cannot be sent in IMAP at all;
//    such a value still yields a literal, which the server will refuse.
// Never an atom, so NIL and the empty string stay strings.
std::string quote_imap(std::string_view value, bool literal_plus = false);

// The wire form of a command: tag SP name [SP argument]... CRLF. Atoms and NIL
// go as they are (an atom value that is not a valid atom goes as a string),
// strings through quote_imap(value, literal_plus), lists in parentheses.
// After each synchronising literal's "}\r\n" the caller waits for "+".
// parse(format_command(c)) == c for every command the parser produces.
std::string format_command(const Command& command, bool literal_plus = false);

// The value of an atom, string or nil argument as an astring (a nil argument
// reads as its atom text, e.g. LOGIN's user "nil"); nullopt for a list.
std::optional<std::string_view> astring_value(const Arg& arg);

// One ID field (RFC 2971): value nullopt for NIL.
struct IdField {
  std::string name;
  std::optional<std::string> value;

  bool operator==(const IdField&) const = default;
};
// The fields of ID's argument: NIL gives none; a list must hold name/value
// pairs, at most 30 pairs, names 1..30 bytes and values at most 1024 bytes
// (RFC 2971 §3.3); nullopt otherwise. A name is a string (quoted or literal;
// an atom is accepted too, clients are sloppy), never NIL or a list; a value
// is a string, an atom or NIL, never a list. Names keep their case: compare
// them case-insensitively.
std::optional<std::vector<IdField>> id_fields(const Arg& arg);
// The inverse: "NIL" for no fields, else ("name" "value" "name" NIL ...),
// each string through quote_imap().
std::string format_id_fields(const std::vector<IdField>& fields);

}  // namespace zmproxy::proxy::imap

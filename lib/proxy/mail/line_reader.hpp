#pragma once
// LineReader: an incremental reader of one CRLF- (or bare LF-) terminated
// line, with a length limit. Pure (standard library only), no I/O.
//
// Used for SASL continuation responses (IMAP AUTHENTICATE, POP3 AUTH) and any
// other place where a whole line is all the grammar there is.
//
// Contract:
//  - feed(bytes) reads at most one line. It returns line_ready with `consumed`
//    counting the bytes up to and including the LF; the bytes after it stay
//    with the caller (pipelining). need_more means every byte was consumed.
//  - The limit counts the whole line, CR LF included: a line of max_line bytes
//    (terminator included) is accepted, one byte more is too_long. The
//    verdict depends only on where the first LF is, never on how the bytes
//    were chunked.
//  - too_long is final: the reader consumes up to and including the byte that
//    broke the limit, and every later feed() returns too_long with
//    consumed = 0 until reset(). The caller answers and closes.
//  - While a line is ready, feed() returns line_ready with consumed = 0; call
//    take() first.
//  - take() returns the line without its terminator: "\r\n" or "\n" is
//    stripped; a CR anywhere else (a bare CR) is kept as data. Bytes are not
//    interpreted otherwise (NUL and 8-bit pass through: the caller validates).
//
// Thread affinity: none; a value type, one per connection.

#include <cstddef>
#include <string>
#include <string_view>

namespace zmproxy::proxy::mail {

class LineReader {
 public:
  enum class Status { need_more, line_ready, too_long };
  struct Step {
    Status status = Status::need_more;
    std::size_t consumed = 0;
  };

  static constexpr std::size_t k_default_max_line = 8192;

  explicit LineReader(std::size_t max_line = k_default_max_line) noexcept;

  Step feed(std::string_view data);
  // The line read (without CR LF); the reader starts on the next line.
  // Empty if no line is ready.
  std::string take();
  // Forget any partial line and a too_long verdict.
  void reset() noexcept;

  std::size_t max_line() const noexcept { return m_max_line; }
  // Bytes of the current partial line held so far.
  std::size_t buffered() const noexcept { return m_line.size(); }

 private:
  enum class State { reading, ready, failed };
  State m_state = State::reading;
  std::size_t m_max_line;
  std::string m_line;  // bytes of the current line, terminator excluded
};

}  // namespace zmproxy::proxy::mail

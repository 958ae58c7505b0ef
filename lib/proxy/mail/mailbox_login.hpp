#pragma once
// The seam between a session's dialogue with its client and its login at the
// mailbox (nginx's split of mail_*_handler.c and mail_proxy_module.c): what
// the client asked to log in as, what the mailbox answered, and reading the
// mailbox's replies one whole response at a time. imap/upstream_login.cpp and
// pop3/upstream_login.cpp speak to the mailbox; session_driver.hpp acts on
// the verdict (the client's reply, the counters, the hand-off to the relay).

#include "lib/proxy/mail/sasl.hpp"
#include "lib/proxy/mail/session.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace zmproxy::proxy::mail {

// A client's login, checked (no control characters in the name, no CR, LF
// or NUL in the password) before it reaches a mailbox.
struct Login {
  std::string tag;  // IMAP: the client's tag; POP3: empty
  bool sasl = false;  // IMAP AUTHENTICATE / POP3 AUTH; else IMAP LOGIN / POP3 USER+PASS
  SaslMechanism mechanism = SaslMechanism::plain;
  std::string user;      // routing name, suffix stripped
  std::string suffix;    // Zimbra's /tb /wm /ni
  std::string authzid;
  std::string password;  // PLAIN/LOGIN password, or the OAuth initial response
  // When set, the account the access log names: a Kerberos user's, whose
  // upstream login may authenticate as a master user (kerberos_login.hpp).
  std::string account;
};

// Strip Zimbra's client-type suffix (/tb /wm /ni) from login.user into login.suffix.
void strip_suffix(Login& login);

// Everything the login at the mailbox needs.
struct MailboxLoginRequest {
  Login login;
  route::Route route;  // the mailbox, and the account name to use there
  std::string client_ip;
  unsigned short client_port = 0;
  std::string local_ip;        // the proxy's address the client reached
  std::string client_name;     // IMAP: what the client's ID said (printable)
  std::string client_version;
  bool send_client_address = true;  // IMAP ID / POP3 XOIP or XCLIENT
  std::chrono::milliseconds timeout{};
};

// What the mailbox said of the login.
struct MailboxVerdict {
  enum class Kind { accepted, refused, unavailable };
  Kind kind = Kind::unavailable;
  std::string reply;  // accepted: the mailbox's reply, for the client; refused: its text
  std::string why;    // unavailable: what went wrong, for the log
  std::string user;   // the account logged in to (route user + suffix)

  static MailboxVerdict unavailable(std::string why) {
    return MailboxVerdict{Kind::unavailable, {}, std::move(why), {}};
  }
};

// A mailbox connection's reader: bytes read and not yet parsed, and a
// response parser (imap:: or pop3::ResponseParser). `timeout` bounds the
// whole dialogue from the first read, not each read: a mailbox that trickles
// a byte now and then cannot hold the login longer.
template <class Stream, class Parser>
struct MailboxReader {
  Stream& stream;
  std::chrono::milliseconds timeout;
  std::string buf{};
  Parser parser{};
  std::uint64_t in = 0;
  std::uint64_t out = 0;
  // Why the last next_response() gave nothing, for the log: "" when the
  // mailbox's response was whole.
  std::string failure{};
  std::optional<std::chrono::steady_clock::time_point> until{};

  using Response = decltype(std::declval<Parser&>().take());

  // The next whole response, or nullopt (closed, timed out, too long,
  // invalid: `failure` says which).
  awaitable<std::optional<Response>> next_response() {
    failure.clear();
    const auto now = std::chrono::steady_clock::now();
    if (!until) {
      until = now + timeout;
    }
    while (true) {
      auto step = parser.feed(buf);
      buf.erase(0, step.consumed);
      if (step.status == Parser::Status::response_ready) {
        co_return parser.take();
      }
      if (step.status != Parser::Status::need_more) {
        failure =
            step.status == Parser::Status::too_long ? "a response too long" : "an invalid response";
        co_return std::nullopt;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          *until - std::chrono::steady_clock::now());
      bool timed_out = left.count() <= 0;
      if (timed_out || !co_await read_some(stream, buf, left, timed_out, in)) {
        failure = timed_out
                      ? "no complete response within " + std::to_string(timeout.count()) + " ms"
                      : "the connection closed";
        co_return std::nullopt;
      }
    }
  }

  // "what: failure", or `what` alone when the response was whole but wrong.
  std::string why(std::string_view what) const {
    return failure.empty() ? std::string(what) : std::string(what) + ": " + failure;
  }

  // Write a block of the proxy's own commands (write_upstream's checks).
  awaitable<bool> write(std::string_view block) { return write_upstream(stream, block, timeout, out); }
};

}  // namespace zmproxy::proxy::mail

#pragma once
// The SASL exchange IMAP AUTHENTICATE and POP3 AUTH share: the first
// response (initial response or the line after "+ "), the LOGIN mechanism's
// second step, and the credentials decoded. The protocol only maps the
// outcome to its replies. Included by the session translation units only.

#include <optional>
#include <string>

#include "lib/proxy/mail/line_reader.hpp"
#include "lib/proxy/mail/login_budget.hpp"
#include "lib/proxy/mail/sasl.hpp"
#include "lib/proxy/mail/session.hpp"

namespace zmproxy::proxy::mail {

// Read one line of a SASL exchange from the client; nullopt on EOF, timeout
// (both set info.outcome) or a line over `max` bytes (CR LF excluded).
template <class Stream>
awaitable<std::optional<std::string>> read_sasl_line(Stream& client, std::string& in, SessionInfo& info,
                                                     const LoginBudget& budget,
                                                     std::size_t max = k_max_sasl_response) {
  LineReader reader(max + 2);
  while (true) {
    auto step = reader.feed(in);
    in.erase(0, step.consumed);
    if (step.status == LineReader::Status::line_ready) {
      co_return reader.take();
    }
    if (step.status == LineReader::Status::too_long) {
      co_return std::nullopt;
    }
    bool timed_out = false;
    if (!co_await read_some(client, in, budget.wait(Clock::now()), timed_out, info.bytes_in)) {
      info.outcome = timed_out ? "timeout" : "closed";
      co_return std::nullopt;
    }
  }
}

struct SaslCredentials {
  enum class Outcome { ok, cancelled, invalid, closed };
  Outcome outcome = Outcome::closed;
  std::string authzid;
  std::string user;
  std::string password;  // PLAIN/LOGIN password, or the OAuth initial response
  std::string error;     // for invalid
};

// Run the exchange for `mech` (PLAIN, LOGIN, XOAUTH2 or OAUTHBEARER).
// `initial_response`: the text after the mechanism name, if the client sent one.
template <class Stream>
awaitable<SaslCredentials> read_sasl_credentials(Stream& client, std::string& in, SessionInfo& info,
                                                 const LoginBudget& budget, SaslMechanism mech,
                                                 std::optional<std::string> initial_response) {
  using Outcome = SaslCredentials::Outcome;
  SaslCredentials c;
  SaslResponse first;
  if (initial_response) {
    first = decode_initial_response(*initial_response);
  } else {
    const std::string prompt =
        mech == SaslMechanism::login ? "+ " + std::string(k_login_username_prompt) + "\r\n" : "+ \r\n";
    if (!co_await write_all(client, prompt, budget.wait(Clock::now()), info.bytes_out)) {
      co_return c;
    }
    auto line = co_await read_sasl_line(client, in, info, budget);
    if (!line) {
      co_return c;
    }
    first = decode_continuation(*line);
  }
  c.outcome = Outcome::invalid;
  if (first.kind == SaslResponseKind::cancel) {
    c.outcome = Outcome::cancelled;
    co_return c;
  }
  if (first.kind == SaslResponseKind::error) {
    c.error = std::string(sasl_error_text(first.error));
    co_return c;
  }
  if (mech == SaslMechanism::plain) {
    auto p = parse_plain(first.data);
    if (!p.ok()) {
      c.error = std::string(sasl_error_text(p.error));
      co_return c;
    }
    c.authzid = std::move(p.credentials.authzid);
    c.user = std::move(p.credentials.authcid);
    c.password = std::move(p.credentials.password);
  } else if (mech == SaslMechanism::login) {
    auto u = check_login_username(first.data);
    if (!u.ok()) {
      c.error = std::string(sasl_error_text(u.error));
      co_return c;
    }
    c.user = std::move(u.value);
    const std::string prompt = "+ " + std::string(k_login_password_prompt) + "\r\n";
    if (!co_await write_all(client, prompt, budget.wait(Clock::now()), info.bytes_out)) {
      c.outcome = Outcome::closed;
      co_return c;
    }
    auto line = co_await read_sasl_line(client, in, info, budget);
    if (!line) {
      c.outcome = Outcome::closed;
      co_return c;
    }
    const SaslResponse second = decode_continuation(*line);
    if (second.kind == SaslResponseKind::cancel) {
      c.outcome = Outcome::cancelled;
      co_return c;
    }
    auto p = second.kind == SaslResponseKind::data ? check_login_password(second.data)
                                                   : SaslValue{second.error, {}};
    if (!p.ok()) {
      c.error = std::string(sasl_error_text(p.error));
      co_return c;
    }
    c.password = std::move(p.value);
  } else {
    auto u = oauth_user(mech, first.data);
    if (!u.ok()) {
      c.error = std::string(sasl_error_text(u.error));
      co_return c;
    }
    c.user = std::move(u.value);
    c.password = std::move(first.data);
  }
  c.outcome = Outcome::ok;
  co_return c;
}

}  // namespace zmproxy::proxy::mail

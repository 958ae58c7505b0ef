#include "lib/proxy/pop3/upstream_login.hpp"

#include "lib/proxy/mail/upstream_text.hpp"
#include "lib/proxy/pop3/response_parser.hpp"

namespace zmproxy::proxy::pop3 {

namespace {

using namespace mail;

template <class Stream>
using Reader = MailboxReader<Stream, ResponseParser>;

// One command, one reply: the proxy never has a second command in flight,
// and a reply followed by bytes the mailbox did not owe is a protocol error.
// So no reply can be taken for another's (USER's +OK for PASS's verdict, or
// XOIP's for AUTH's).
template <class Stream>
awaitable<std::optional<Response>> command_reply(Reader<Stream>& io, std::string_view command) {
  if (!co_await io.write(command)) {
    co_return std::nullopt;
  }
  auto r = co_await io.next_response();
  if (!r || !io.buf.empty()) {
    co_return std::nullopt;
  }
  co_return r;
}

// The client's address: XCLIENT when the greeting offers it, else XOIP.
std::string address_command(const Response& greeting, const MailboxLoginRequest& r) {
  if (greeting_offers(greeting.raw, "XCLIENT")) {
    return "XCLIENT ADDR=" + r.client_ip + " PORT=" + std::to_string(r.client_port) + "\r\n";
  }
  return "XOIP " + r.client_ip + "\r\n";
}

template <class Stream>
awaitable<std::optional<Response>> user_pass(Reader<Stream>& io, const Login& login, const std::string& user) {
  const std::string user_command = "USER " + user + "\r\n";
  auto verdict = co_await command_reply(io, user_command);
  if (verdict && verdict->kind == Response::Kind::ok) {
    const std::string pass = "PASS " + login.password + "\r\n";
    verdict = co_await command_reply(io, pass);
  }
  co_return verdict;
}

template <class Stream>
awaitable<std::optional<Response>> auth(Reader<Stream>& io, const Login& login, const std::string& user) {
  const std::string command =
      login.mechanism == SaslMechanism::plain || login.mechanism == SaslMechanism::login
          ? "AUTH PLAIN " + encode_plain(PlainCredentials{login.authzid, user, login.password}) + "\r\n"
          : "AUTH " + std::string(sasl_mechanism_name(login.mechanism)) + " " +
                encode_initial_response(login.password) + "\r\n";
  auto verdict = co_await command_reply(io, command);
  if (verdict && verdict->kind == Response::Kind::continuation) {
    // An OAuth error challenge: finish the exchange to get the verdict.
    verdict = co_await command_reply(io, std::string_view("\r\n"));
  }
  co_return verdict;
}

template <class Stream>
awaitable<MailboxVerdict> login_at(Stream& mailbox, const MailboxLoginRequest& r) {
  Reader<Stream> io{mailbox, r.timeout};
  auto greeting = co_await io.next_response();
  if (!greeting || greeting->kind != Response::Kind::ok || !io.buf.empty()) {
    co_return MailboxVerdict::unavailable(io.why("no POP3 greeting"));
  }
  const std::string user = r.route.user + r.login.suffix;
  if (!safe_login_name(user)) {
    co_return MailboxVerdict::unavailable("the route names a user with a control character");
  }
  // Its answer, +OK or -ERR, only has to be there before the login goes.
  if (r.send_client_address) {
    const std::string command = address_command(*greeting, r);
    if (!co_await command_reply(io, command)) {
      co_return MailboxVerdict::unavailable(io.why("no answer to the client's address"));
    }
  }
  std::optional<Response> verdict;
  if (r.login.sasl) {
    verdict = co_await auth(io, r.login, user);
  } else {
    verdict = co_await user_pass(io, r.login, user);
  }
  if (!verdict || verdict->kind == Response::Kind::continuation) {
    co_return MailboxVerdict::unavailable(verdict
                                              ? std::string("a continuation as the login's answer")
                                              : io.why("no answer to the login"));
  }
  if (verdict->kind == Response::Kind::ok) {
    co_return MailboxVerdict{MailboxVerdict::Kind::accepted, std::move(verdict->raw), {}, user};
  }
  co_return MailboxVerdict{MailboxVerdict::Kind::refused, std::move(verdict->text), {}, user};
}

}  // namespace

awaitable<MailboxVerdict> login_at_mailbox(tcp::socket& mailbox, const MailboxLoginRequest& r) {
  return login_at(mailbox, r);
}
awaitable<MailboxVerdict> login_at_mailbox(TlsStream& mailbox, const MailboxLoginRequest& r) {
  return login_at(mailbox, r);
}

}  // namespace zmproxy::proxy::pop3

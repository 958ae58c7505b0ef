#include "lib/proxy/pop3/client_session.hpp"

#include "lib/core/strings.hpp"
#include "lib/core/version.hpp"
#include "lib/proxy/mail/gssapi_exchange.hpp"
#include "lib/proxy/pop3/command_parser.hpp"
#include "lib/proxy/pop3/upstream_login.hpp"

namespace zmproxy::proxy::pop3 {

namespace {

using namespace mail;

// POP3 has no tags. Passed as a named value: GCC 12 miscompiles a braced
// temporary ({}) passed by value to a coroutine inside co_await.
constexpr std::string_view k_no_tag{};

// The name from USER, until PASS (or STLS, which forgets it: a USER from
// before the TLS handshake does not name the account a PASS after it logs
// in to).
struct Pop3Dialogue {
  std::string user;

  void forget() { user.clear(); }
  void describe(MailboxLoginRequest&) const {}
};

// POP3's entries in the driver's table (session_driver.hpp). POP3 has no
// tags: every reply is one "-ERR" or "+OK" line.
struct Pop3 {
  static constexpr MailProtocol k_protocol{"pop3",
                                           "pop3s",
                                           Protocol::pop3,
                                           Protocol::pop3s,
                                           &config::ProxyConfig::pop3,
                                           &ReplyText::pop3,
                                           throttle::MailProtocol::pop3};
  static constexpr GssService k_gss_service = GssService::pop;
  using Parser = CommandParser;
  using Dialogue = Pop3Dialogue;
  using S = mail::State<Pop3>;

  // RFC 5034: an initial response that would make the AUTH line longer than
  // 255 octets goes in a continuation instead; continuations have their own
  // limit (sasl_exchange.hpp, gssapi_exchange.hpp).
  static CommandParser::Limits parser_limits(const config::MailSection&, bool) { return {}; }
  static std::string tagged(std::string_view, std::string_view text) { return std::string(text) + "\r\n"; }
  static std::string greeting(const S& s) {
    return s.settings.expose_version ? "+OK zmproxy " + std::string(k_version) + " POP3 ready\r\n"
                                     : std::string("+OK POP3 ready\r\n");
  }
  static std::string invalid_reply(S&, std::string_view reason) { return "-ERR " + std::string(reason) + "\r\n"; }

  template <class Stream>
  static awaitable<Next> dispatch(S& s, Stream& client, Command cmd);
  template <class Stream>
  static awaitable<MailboxVerdict> login_at_mailbox(Stream& mailbox, const MailboxLoginRequest& r) {
    return pop3::login_at_mailbox(mailbox, r);
  }
};

using S = Pop3::S;

// The SASL mechanisms offered, space separated ("" for none).
std::string sasl_mechanisms(const S& s) {
  std::string out = gssapi_offered(s) ? "GSSAPI" : "";
  if (!cleartext_refused(s) && s.settings.sasl_plain) {
    out += out.empty() ? "PLAIN LOGIN" : " PLAIN LOGIN";
  }
  return out;
}

std::string capa(const S& s) {
  std::string out = "+OK Capability list follows\r\n";
  const bool only = cleartext_refused(s);
  for (const std::string& c : s.settings.capabilities) {
    if (core::istarts_with(c, "SASL") || core::iequals(c, "STLS") || core::istarts_with(c, "IMPLEMENTATION")) {
      continue;
    }
    if (only && core::iequals(c, "USER")) {
      continue;
    }
    out += c + "\r\n";
  }
  if (const std::string mechanisms = sasl_mechanisms(s); !mechanisms.empty()) {
    out += "SASL " + mechanisms + "\r\n";
  }
  if (starttls_offered(s)) {
    out += "STLS\r\n";
  }
  out += ".\r\n";
  return out;
}

template <class Stream>
awaitable<Next> user(S& s, Stream& client, const Command& cmd) {
  if (cleartext_refused(s)) {
    const std::string text = Pop3::tagged(k_no_tag, say<Pop3>(k_cleartext_login));
    co_return co_await reply(s, client, text);
  }
  if (cmd.rest.empty()) {
    co_return co_await reply(s, client, "-ERR USER needs a name\r\n");
  }
  s.dialogue.user = cmd.rest;
  co_return co_await reply(s, client, "+OK\r\n");
}

template <class Stream>
awaitable<Next> pass(S& s, Stream& client, const Command& cmd) {
  if (s.dialogue.user.empty()) {
    co_return co_await reply(s, client, "-ERR send USER first\r\n");
  }
  if (cleartext_refused(s)) {
    const std::string text = Pop3::tagged(k_no_tag, say<Pop3>(k_cleartext_login));
    co_return co_await reply(s, client, text);
  }
  Login l{{}, false, SaslMechanism::plain, s.dialogue.user, {}, {}, cmd.rest, {}};  // named: see k_no_tag
  co_await do_login(s, client, std::move(l));
  co_return Next::done;
}

template <class Stream>
awaitable<Next> auth(S& s, Stream& client, const Command& cmd) {
  if (cmd.args.empty()) {
    // RFC 1734 AUTH without a mechanism lists them.
    std::string text = "+OK\r\n";
    for (const std::string& m : core::split(sasl_mechanisms(s), ' ')) {
      if (!m.empty()) {
        text += m + "\r\n";
      }
    }
    text += ".\r\n";
    co_return co_await reply(s, client, text);
  }
  std::optional<std::string> ir;
  if (cmd.args.size() >= 2) {
    ir = cmd.args[1];
  }
  const SaslMechanism mech = parse_sasl_mechanism(cmd.args[0]);
  if (mech == SaslMechanism::gssapi) {
    co_return co_await authenticate_gssapi(s, client, k_no_tag, std::move(ir));
  }
  co_return co_await authenticate(s, client, k_no_tag, mech, std::move(ir));
}

template <class Stream>
awaitable<Next> Pop3::dispatch(S& s, Stream& client, Command cmd) {
  const std::string& name = cmd.name;
  if (name == "CAPA") {
    const std::string text = capa(s);
    co_return co_await reply(s, client, text);
  }
  if (name == "QUIT") {
    s.info.outcome = "quit";
    co_await send(s, client, "+OK bye\r\n");
    co_return Next::done;
  }
  if (name == "NOOP") {
    co_return co_await reply(s, client, "+OK\r\n");
  }
  if (name == "STLS") {
    co_return co_await start_tls(s, client, k_no_tag);
  }
  if (name == "USER") {
    co_return co_await user(s, client, cmd);
  }
  if (name == "PASS") {
    co_return co_await pass(s, client, cmd);
  }
  if (name == "AUTH") {
    co_return co_await auth(s, client, cmd);
  }
  const std::string text = "-ERR " + name + " is not valid before login\r\n";
  co_return co_await refuse_command(s, client, text);
}

}  // namespace

awaitable<void> run_session(std::shared_ptr<const Generation> g, tcp::socket socket, bool tls, ConnectionSlot slot,
                            std::optional<tcp::endpoint> client, std::optional<tcp::endpoint> local) {
  return mail::run_session<Pop3>(std::move(g), std::move(socket), tls, std::move(slot), client, local);
}

}  // namespace zmproxy::proxy::pop3

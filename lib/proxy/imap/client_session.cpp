#include "lib/proxy/imap/client_session.hpp"

#include "lib/core/strings.hpp"
#include "lib/core/version.hpp"
#include "lib/proxy/imap/command_parser.hpp"
#include "lib/proxy/imap/upstream_login.hpp"
#include "lib/proxy/mail/gssapi_exchange.hpp"

namespace zmproxy::proxy::imap {

namespace {

using namespace mail;

constexpr std::size_t k_max_id_value = 64;

// What the client said of itself in ID, repeated to the mailbox in the
// proxy's own ID: printable only (a literal may carry CR LF).
struct ImapDialogue {
  std::string client_name;
  std::string client_version;

  void forget() {
    client_name.clear();
    client_version.clear();
  }
  void describe(MailboxLoginRequest& r) const {
    r.client_name = client_name;
    r.client_version = client_version;
  }
};

// IMAP's entries in the driver's table (session_driver.hpp).
struct Imap {
  static constexpr MailProtocol k_protocol{"imap",
                                           "imaps",
                                           Protocol::imap,
                                           Protocol::imaps,
                                           &config::ProxyConfig::imap,
                                           &ReplyText::imap,
                                           throttle::MailProtocol::imap};
  static constexpr std::string_view k_literal_go_ahead = "+ Ready for literal data\r\n";
  static constexpr GssService k_gss_service = GssService::imap;
  using Parser = CommandParser;
  using Dialogue = ImapDialogue;
  using S = mail::State<Imap>;

  // Before login, a literal is at most 8 KiB (a password, an ID value), a
  // line 8 KiB and a whole command 16 KiB; a line and a command 64 KiB where
  // GSSAPI is offered (gssapi_offered), for an AUTHENTICATE GSSAPI whose initial response is a
  // ticket with a large PAC (Windows caps tokens at 48000 bytes: 64000 in
  // base64).
  static CommandParser::Limits parser_limits(const config::MailSection&, bool gssapi) {
    CommandParser::Limits l;
    l.max_literal = 8 * 1024;
    l.max_line = gssapi ? 64 * 1024 : 8 * 1024;
    l.max_command = gssapi ? 64 * 1024 : 16 * 1024;
    return l;
  }

  static std::string tagged(std::string_view tag, std::string_view text) {
    std::string out;
    out.reserve(tag.size() + text.size() + 3);
    out.append(tag).append(" ").append(text).append("\r\n");
    return out;
  }

  template <class Stream>
  static awaitable<MailboxVerdict> login_at_mailbox(Stream& mailbox, const MailboxLoginRequest& r) {
    return imap::login_at_mailbox(mailbox, r);
  }
  static std::string greeting(const S& s);
  static std::string invalid_reply(S& s, std::string_view reason);
  template <class Stream>
  static awaitable<Next> dispatch(S& s, Stream& client, Command cmd);
};

using S = Imap::S;

std::string capabilities(const S& s) {
  std::string out;
  for (const std::string& c : s.settings.capabilities) {
    if (core::istarts_with(c, "AUTH=") || core::iequals(c, "STARTTLS") || core::iequals(c, "LOGINDISABLED")) {
      continue;
    }
    out += c;
    out += ' ';
  }
  if (starttls_offered(s)) {
    out += "STARTTLS ";
  }
  if (gssapi_offered(s)) {
    out += "AUTH=GSSAPI ";
  }
  if (cleartext_refused(s)) {
    out += "LOGINDISABLED ";
  } else if (s.settings.sasl_plain) {
    out += "AUTH=PLAIN AUTH=LOGIN ";
  }
  if (!out.empty()) {
    out.pop_back();
  }
  return out;
}

std::string Imap::greeting(const S& s) {
  const std::string banner = s.settings.expose_version ? "zmproxy " + std::string(k_version) + " IMAP4 ready"
                                                       : "IMAP4rev1 proxy server ready";
  return "* OK [CAPABILITY " + capabilities(s) + "] " + banner + "\r\n";
}

// The tag, when one was read, gets the BAD.
std::string Imap::invalid_reply(S& s, std::string_view reason) {
  const Command partial = s.parser.take();
  return (partial.tag.empty() ? std::string("*") : partial.tag) + " BAD [CLIENTBUG] " + std::string(reason) +
         "\r\n";
}

std::optional<std::string> arg_string(const Arg& a) {
  if (a.kind == Arg::Kind::atom || a.kind == Arg::Kind::string) {
    return a.value;
  }
  return std::nullopt;
}

// ID: remember the client's name and version; answer with the proxy's.
std::string id(S& s, const Command& cmd) {
  if (!cmd.args.empty() && cmd.args[0].kind == Arg::Kind::list) {
    const auto& items = cmd.args[0].children;
    for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
      const auto key = arg_string(items[i]);
      const auto value = arg_string(items[i + 1]);
      if (key && value && core::iequals(*key, "name")) {
        s.dialogue.client_name = printable_ascii(*value, k_max_id_value);
      } else if (key && value && core::iequals(*key, "version")) {
        s.dialogue.client_version = printable_ascii(*value, k_max_id_value);
      }
    }
  }
  return "* ID (\"name\" \"zmproxy\" \"version\" \"" + std::string(k_version) + "\")\r\n" + cmd.tag +
         " OK ID completed\r\n";
}

template <class Stream>
awaitable<Next> login(S& s, Stream& client, const Command& cmd) {
  if (cleartext_refused(s)) {
    const std::string text = Imap::tagged(cmd.tag, say<Imap>(k_cleartext_login));
    co_return co_await reply(s, client, text);
  }
  const auto user = cmd.args.size() == 2 ? arg_string(cmd.args[0]) : std::nullopt;
  const auto pass = cmd.args.size() == 2 ? arg_string(cmd.args[1]) : std::nullopt;
  if (!user || !pass) {
    const std::string text = cmd.tag + " BAD LOGIN takes a user name and a password\r\n";
    co_return co_await reply(s, client, text);
  }
  // Named, then moved: GCC 12 miscompiles a braced temporary passed by value
  // to a coroutine inside co_await.
  Login l{cmd.tag, false, SaslMechanism::plain, *user, {}, {}, *pass, {}};
  co_await do_login(s, client, std::move(l));
  co_return Next::done;
}

template <class Stream>
awaitable<Next> authenticate(S& s, Stream& client, const Command& cmd) {
  const auto mech_name = !cmd.args.empty() ? arg_string(cmd.args[0]) : std::nullopt;
  const SaslMechanism mech = mech_name ? parse_sasl_mechanism(*mech_name) : SaslMechanism::unknown;
  std::optional<std::string> ir;
  if (cmd.args.size() >= 2) {
    ir = arg_string(cmd.args[1]).value_or(std::string("\x01"));  // not base64: refused as invalid
  }
  if (mech == SaslMechanism::gssapi) {
    co_return co_await mail::authenticate_gssapi(s, client, cmd.tag, std::move(ir));
  }
  co_return co_await mail::authenticate(s, client, cmd.tag, mech, std::move(ir));
}

template <class Stream>
awaitable<Next> Imap::dispatch(S& s, Stream& client, Command cmd) {
  const std::string& tag = cmd.tag;
  const std::string& name = cmd.name;
  if (name == "CAPABILITY") {
    const std::string text = "* CAPABILITY " + capabilities(s) + "\r\n" + tag + " OK CAPABILITY completed\r\n";
    co_return co_await reply(s, client, text);
  }
  if (name == "NOOP") {
    const std::string text = tag + " OK NOOP completed\r\n";
    co_return co_await reply(s, client, text);
  }
  if (name == "LOGOUT") {
    s.info.outcome = "logout";
    const std::string text = "* BYE zmproxy logging out\r\n" + tag + " OK LOGOUT completed\r\n";
    co_await send(s, client, text);
    co_return Next::done;
  }
  if (name == "ID") {
    const std::string text = id(s, cmd);
    co_return co_await reply(s, client, text);
  }
  if (name == "STARTTLS") {
    co_return co_await start_tls(s, client, tag);
  }
  if (name == "LOGIN" || name == "AUTHENTICATE") {
    // The awaitable is named: GCC 12 mishandles a ?: temporary inside co_await.
    auto run = name == "LOGIN" ? login(s, client, cmd) : authenticate(s, client, cmd);
    co_return co_await std::move(run);
  }
  const std::string text = tag + " BAD [CLIENTBUG] " + name + " is not valid before login\r\n";
  co_return co_await refuse_command(s, client, text);
}

}  // namespace

awaitable<void> run_session(std::shared_ptr<const Generation> g, tcp::socket socket, bool tls, ConnectionSlot slot,
                            std::optional<tcp::endpoint> client, std::optional<tcp::endpoint> local) {
  return mail::run_session<Imap>(std::move(g), std::move(socket), tls, std::move(slot), client, local);
}

}  // namespace zmproxy::proxy::imap

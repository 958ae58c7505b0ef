#include "lib/proxy/imap/client_session.hpp"

#include "lib/core/strings.hpp"
#include "lib/core/version.hpp"
#include "lib/log/logger.hpp"
#include "lib/proxy/imap/command_parser.hpp"
#include "lib/proxy/imap/response_parser.hpp"
#include "lib/proxy/mail/login_budget.hpp"
#include "lib/proxy/mail/sasl_exchange.hpp"
#include "lib/proxy/mail/upstream_text.hpp"
#include "lib/proxy/mail/relay.hpp"
#include "lib/proxy/mail/session.hpp"
#include "lib/route/route_resolver_asio.hpp"

namespace zmproxy::proxy::imap {

namespace {

using namespace mail;
using config::StartTls;

constexpr int k_max_bad_commands = 10;
constexpr std::size_t k_max_id_value = 64;

// Before login, a literal is at most 8 KiB (a password, an ID value) and a
// whole command at most 16 KiB.
CommandParser::Limits prelogin_limits() {
  CommandParser::Limits l;
  l.max_literal = 8 * 1024;
  l.max_command = 16 * 1024;
  return l;
}

enum class Next { done, upgrade };

struct Login {
  std::string tag;
  std::string command;  // LOGIN or AUTHENTICATE
  SaslMechanism mechanism = SaslMechanism::plain;
  std::string user;      // routing name, suffix stripped
  std::string suffix;    // Zimbra's /tb /wm /ni
  std::string authzid;
  std::string password;  // PLAIN/LOGIN password, or the OAuth initial response
};

struct State {
  std::shared_ptr<const Generation> shared;
  const config::ProxyConfig& cfg;
  ProtocolCounters& counters;  // the listener's: logins and failures
  SessionInfo info{};
  LoginBudget budget;
  std::string in{};  // client bytes not yet parsed
  CommandParser parser{prelogin_limits()};
  bool tls = false;
  int bad = 0;
  std::string client_name{};
  std::string client_version{};
  ConnectionSlot slot{};
  bool handed_off = false;  // the relay owns the connections and the bookkeeping
  bool logging_in = false;  // the client's login is under way: the budget no longer applies

  std::chrono::milliseconds idle() const { return cfg.imap.idle_timeout; }
  // How long a read before login may wait (see LoginBudget).
  std::chrono::milliseconds wait() const { return budget.wait(Clock::now()); }

  SessionEnd hand_off_end() {
    handed_off = true;
    return SessionEnd{shared, std::move(info), std::move(slot)};
  }
};

std::string imap_quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

// Strip Zimbra's client-type suffixes from a login name.
void split_suffix(Login& l) {
  for (std::string_view sfx : {"/tb", "/wm", "/ni"}) {
    if (l.user.size() > sfx.size() && core::iequals(std::string_view(l.user).substr(l.user.size() - sfx.size()), sfx)) {
      l.suffix = l.user.substr(l.user.size() - sfx.size());
      l.user.resize(l.user.size() - sfx.size());
      return;
    }
  }
}

std::string capabilities(const State& s) {
  std::string out;
  for (const std::string& c : s.cfg.imap.capabilities) {
    if (core::istarts_with(c, "AUTH=") || core::iequals(c, "STARTTLS") || core::iequals(c, "LOGINDISABLED")) {
      continue;
    }
    out += c;
    out += ' ';
  }
  const bool tls_possible = s.shared->server_tls != nullptr;
  if (!s.tls && tls_possible && s.cfg.imap.starttls != StartTls::off) {
    out += "STARTTLS ";
  }
  if (!s.tls && tls_possible && s.cfg.imap.starttls == StartTls::only) {
    out += "LOGINDISABLED ";
  } else if (s.cfg.imap.sasl_plain) {
    out += "AUTH=PLAIN AUTH=LOGIN ";
  }
  if (!out.empty()) {
    out.pop_back();
  }
  return out;
}

bool cleartext_refused(const State& s) {
  return !s.tls && s.shared->server_tls != nullptr && s.cfg.imap.starttls == StartTls::only;
}

template <class Stream>
awaitable<bool> send(State& s, Stream& client, std::string_view text) {
  // Before login a client that does not read is bounded by the login budget too.
  co_return co_await write_all(client, text, s.logging_in ? s.idle() : s.wait(), s.info.bytes_out);
}

// ---- upstream ----

// The astring for LOGIN: quoted when it can be, else a literal; with
// LITERAL+ a non-synchronising one. Returns the parts to send, split where a
// synchronising literal needs the server's "+" first.
void append_astring(std::vector<std::string>& parts, std::string_view v, bool literal_plus) {
  bool plain = v.size() < 1024;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || c == '\r' || c == '\n' || u >= 0x80) {
      plain = false;
    }
  }
  if (plain) {
    parts.back() += imap_quoted(v);
    return;
  }
  if (literal_plus) {
    parts.back() += "{" + std::to_string(v.size()) + "+}\r\n";
    parts.back() += v;
    return;
  }
  parts.back() += "{" + std::to_string(v.size()) + "}\r\n";
  parts.emplace_back(v);
}

template <class Upstream>
struct Upstream_io {
  Upstream& stream;
  std::string buf;
  ResponseParser parser;
  std::chrono::milliseconds timeout;
  std::uint64_t in;
  std::uint64_t out;
};

// The next whole response from the mailbox, or nullopt.
template <class Upstream>
awaitable<std::optional<Response>> next_response(Upstream_io<Upstream>& io) {
  while (true) {
    auto step = io.parser.feed(io.buf);
    io.buf.erase(0, step.consumed);
    if (step.status == ResponseParser::Status::response_ready) {
      co_return io.parser.take();
    }
    if (step.status == ResponseParser::Status::too_long ||
        step.status == ResponseParser::Status::invalid) {
      co_return std::nullopt;
    }
    bool timed_out = false;
    if (!co_await read_some(io.stream, io.buf, io.timeout, timed_out, io.in)) {
      co_return std::nullopt;
    }
  }
}

template <class Client>
awaitable<void> unavailable(State& s, Client& client, const std::string& tag, const std::string& where,
                            std::string_view why) {
  ZMPROXY_LOG(warn, "imap", "{} -> {}: {}", s.info.client_ip, where, why);
  s.info.outcome = "unavailable";
  co_await send(s, client, tag + " NO [UNAVAILABLE] The mailbox server is not responding; try again later\r\n");
}

template <class Client, class Upstream>
awaitable<void> login_upstream(State& s, Client& client, Upstream& up, Login login,
                               route::Route route) {
  const auto timeout = s.cfg.upstream.connect_timeout;
  Upstream_io<Upstream> io{up, {}, {}, timeout, 0, 0};
  const std::string where = route.host + ":" + std::to_string(route.port);

  auto greeting = co_await next_response(io);
  if (!greeting || greeting->kind != Response::Kind::untagged || greeting->status != "OK") {
    co_await unavailable(s, client, login.tag, where, "no IMAP greeting");
    co_return;
  }
  std::string caps;
  if (auto code = response_code(greeting->text); code && core::istarts_with(*code, "CAPABILITY ")) {
    caps = core::to_lower(*code);
  }
  const bool literal_plus = caps.find(" literal+") != std::string::npos;
  const bool sasl_ir = caps.find(" sasl-ir") != std::string::npos;

  // The proxy's own commands carry a tag of this session's that the client
  // cannot guess (a fixed one let a client tag its LOGIN with it and take the
  // ID's OK for its login). Only the tagged reply to the client's own tag,
  // after the ID's, is the verdict.
  const std::string id_tag = new_proxy_tag(login.tag);
  const bool send_id = s.cfg.imap.send_client_address;
  std::vector<std::string> parts(1);
  if (send_id) {
    std::string via = s.client_name.empty() ? "" : s.client_name + (s.client_version.empty() ? "" : "/" + s.client_version) + ",";
    via += s.info.local_ip + "(zmproxy/" + std::string(k_version) + ")";
    parts.back() += id_tag + " ID (\"X-ORIGINATING-IP\" " + imap_quoted(s.info.client_ip) +
                    " \"X-ORIGINATING-PORT\" " + imap_quoted(std::to_string(s.info.client_port)) +
                    " \"name\" " + imap_quoted(s.client_name.empty() ? "zmproxy" : s.client_name) +
                    " \"version\" " + imap_quoted(s.client_version.empty() ? k_version : s.client_version) +
                    " \"X-VIA\" " + imap_quoted(via) + ")\r\n";
  }
  const std::string upstream_user = route.user + login.suffix;
  if (!safe_login_name(upstream_user)) {
    co_await unavailable(s, client, login.tag, where, "the route names a user with a control character");
    co_return;
  }
  std::string sasl_data;  // sent after "+" when the server lacks SASL-IR
  if (login.command == "LOGIN") {
    parts.back() += login.tag + " LOGIN ";
    append_astring(parts, upstream_user, literal_plus);
    parts.back() += ' ';
    append_astring(parts, login.password, literal_plus);
    parts.back() += "\r\n";
  } else {
    std::string ir;
    if (login.mechanism == SaslMechanism::plain || login.mechanism == SaslMechanism::login) {
      ir = encode_plain(PlainCredentials{login.authzid, upstream_user, login.password});
      parts.back() += login.tag + " AUTHENTICATE PLAIN";
    } else {
      ir = encode_initial_response(login.password);
      parts.back() += login.tag + " AUTHENTICATE " + std::string(sasl_mechanism_name(login.mechanism));
    }
    if (sasl_ir) {
      parts.back() += " " + ir + "\r\n";
    } else {
      parts.back() += "\r\n";
      sasl_data = ir + "\r\n";
    }
  }
  // The client's address and the login go in one write, up to the first
  // point where the server must say "+".
  if (!co_await write_upstream(up, parts.front(), timeout, io.out)) {
    co_await unavailable(s, client, login.tag, where, "write failed");
    co_return;
  }
  std::size_t next_part = 1;
  bool id_answered = !send_id;
  while (true) {
    auto r = co_await next_response(io);
    if (!r) {
      co_await unavailable(s, client, login.tag, where, "connection lost during login");
      co_return;
    }
    if (r->kind == Response::Kind::continuation) {
      std::string payload;
      if (next_part < parts.size()) {
        payload = parts[next_part++];
      } else if (!sasl_data.empty()) {
        payload = std::exchange(sasl_data, std::string());
      } else if (login.command == "AUTHENTICATE") {
        payload = "\r\n";  // an error challenge (OAuth): end the exchange
      } else {
        co_await unavailable(s, client, login.tag, where, "unexpected continuation during LOGIN");
        co_return;
      }
      if (!co_await write_upstream(up, payload, timeout, io.out)) {
        co_await unavailable(s, client, login.tag, where, "write failed");
        co_return;
      }
      continue;
    }
    if (r->kind != Response::Kind::tagged) {
      if (r->status == "BYE") {
        co_await unavailable(s, client, login.tag, where, "the mailbox said BYE");
        co_return;
      }
      continue;  // * ID, * CAPABILITY, * OK [ALERT]...
    }
    if (r->tag == id_tag && !id_answered) {
      id_answered = true;  // the ID's answer, whatever it says
      continue;
    }
    if (r->tag != login.tag || !id_answered) {
      co_await unavailable(s, client, login.tag, where, "a tagged reply out of order during login");
      co_return;
    }
    if (r->status == "OK") {
      s.counters.logins++;
      s.info.user = upstream_user;
      if (!co_await send(s, client, r->raw)) {
        co_return;
      }
      // Commands the client pipelined after its login go on to the mailbox.
      if (!s.in.empty()) {
        if (!co_await write_all(up, s.in, timeout, s.info.bytes_in)) {
          co_return;
        }
        s.in.clear();
      }
      s.info.outcome = "ok";
      hand_off(std::move(client), std::move(up), s.hand_off_end(), s.cfg.imap.authenticated_idle_timeout);
      co_return;
    }
    // NO or BAD: wait, forget the route, tell the client, close.
    s.counters.login_failures++;
    s.info.outcome = "auth-failed";
    co_await pause_for(s.cfg.upstream.auth_wait);
    co_await route::invalidate(s.shared->resolver, login.user, s.info.local_ip);
    const std::string text = s.cfg.upstream.pass_errors
                                 ? login.tag + " NO " + r->text + "\r\n"
                                 : login.tag + " NO [AUTHENTICATIONFAILED] " + login.command + " failed\r\n";
    co_await send(s, client, text);
    co_return;
  }
}

template <class Client>
awaitable<void> do_login(State& s, Client& client, Login login) {
  s.logging_in = true;
  split_suffix(login);
  // Nothing that could end a line at the mailbox or in the lookup's headers.
  if (!safe_login_name(login.user) || login.user.size() > k_max_sasl_login ||
      (!login.authzid.empty() && !safe_login_name(login.authzid))) {
    co_await send(s, client, login.tag + " NO [AUTHENTICATIONFAILED] invalid login name\r\n");
    co_return;
  }
  if (!safe_secret(login.password)) {
    co_await send(s, client, login.tag + " NO [AUTHENTICATIONFAILED] a password may not hold CR, LF or NUL\r\n");
    co_return;
  }
  s.info.user = login.user;
  route::RouteQuery q;
  q.user = login.user;
  q.protocol = s.cfg.upstream.ssl ? "imapssl" : "imap";
  q.client_ip = s.info.client_ip;
  q.proxy_ip = s.info.local_ip;
  auto connected = co_await connect_mailbox(s.shared, q, s.info, "imap");
  if (auto* err = std::get_if<route::RouteError>(&connected)) {
    s.info.outcome = err->code == Errc::unavailable ? "unavailable" : "auth-failed";
    if (err->code == Errc::unavailable) {
      ZMPROXY_LOG(warn, "imap", "{}: no mailbox for {}: {}", s.info.client_ip, login.user, err->message);
      const std::string reply = err->message.rfind("the mailbox server", 0) == 0 ? login.tag + " NO [UNAVAILABLE] The mailbox server is not reachable; try again later\r\n" : login.tag + " NO [UNAVAILABLE] Login service is unavailable; try again later\r\n";
      co_await send(s, client, reply);
      co_return;
    }
    ZMPROXY_LOG(info, "imap", "{}: login as {} refused: {}", s.info.client_ip, login.user, err->message);
    s.counters.login_failures++;
    co_await pause_for(s.cfg.upstream.auth_wait);
    const std::string reply = login.tag + " NO [AUTHENTICATIONFAILED] " + login.command + " failed\r\n";
    co_await send(s, client, reply);
    co_return;
  }
  auto& mailbox = std::get<MailboxConnection>(connected);
  if (auto* plain = std::get_if<std::unique_ptr<tcp::socket>>(&mailbox.stream)) {
    co_await login_upstream(s, client, **plain, std::move(login), mailbox.route);
  } else {
    co_await login_upstream(s, client, *std::get<std::unique_ptr<TlsStream>>(mailbox.stream), std::move(login),
                            mailbox.route);
  }
}

std::optional<std::string> arg_string(const Arg& a) {
  if (a.kind == Arg::Kind::atom || a.kind == Arg::Kind::string) {
    return a.value;
  }
  return std::nullopt;
}

// The pre-login dialogue on one stream. Returns upgrade after a STARTTLS.
template <class Stream>
awaitable<Next> preauth(State& s, Stream& client, bool greet) {
  if (greet) {
    const std::string banner = s.cfg.imap.expose_version
                                   ? "zmproxy " + std::string(k_version) + " IMAP4 ready"
                                   : "IMAP4rev1 proxy server ready";
    if (!co_await send(s, client, "* OK [CAPABILITY " + capabilities(s) + "] " + banner + "\r\n")) {
      co_return Next::done;
    }
  }
  while (true) {
    auto step = s.parser.feed(s.in);
    s.in.erase(0, step.consumed);
    switch (step.status) {
      case CommandParser::Status::need_more: {
        bool timed_out = false;
        if (!co_await read_some(client, s.in, s.wait(), timed_out, s.info.bytes_in)) {
          if (timed_out && s.budget.expired(Clock::now())) {
            s.info.outcome = "login-timeout";
            co_await send(s, client, "* BYE login took too long; closing the connection\r\n");
          } else if (timed_out) {
            s.info.outcome = "timeout";
            co_await send(s, client, "* BYE idle too long; closing the connection\r\n");
          } else {
            s.info.outcome = "closed";
          }
          co_return Next::done;
        }
        continue;
      }
      case CommandParser::Status::need_continuation:
        if (!co_await send(s, client, "+ Ready for literal data\r\n")) {
          co_return Next::done;
        }
        continue;
      case CommandParser::Status::too_long:
        s.info.outcome = "too-long";
        co_await send(s, client, "* BYE [TOOBIG] command line too long\r\n");
        co_return Next::done;
      case CommandParser::Status::invalid:
        if (++s.bad > k_max_bad_commands || !s.budget.take_command()) {
          s.info.outcome = "too-many-errors";
          co_await send(s, client, "* BYE too many invalid commands\r\n");
          co_return Next::done;
        }
        {
          // The tag, when one was read, gets the BAD.
          const Command partial = s.parser.take();
          const std::string reply = (partial.tag.empty() ? std::string("*") : partial.tag) +
                                    " BAD [CLIENTBUG] " + std::string(step.reason) + "\r\n";
          if (!co_await send(s, client, reply)) {
            co_return Next::done;
          }
        }
        continue;
      case CommandParser::Status::command_ready:
        break;
    }
    Command cmd = s.parser.take();
    const std::string& tag = cmd.tag;
    const std::string& name = cmd.name;
    if (!s.budget.take_command()) {
      s.info.outcome = "too-many-commands";
      co_await send(s, client, "* BYE too many commands before login\r\n");
      co_return Next::done;
    }
    if (name == "CAPABILITY") {
      if (!co_await send(s, client, "* CAPABILITY " + capabilities(s) + "\r\n" + tag + " OK CAPABILITY completed\r\n")) {
        co_return Next::done;
      }
    } else if (name == "NOOP") {
      if (!co_await send(s, client, tag + " OK NOOP completed\r\n")) {
        co_return Next::done;
      }
    } else if (name == "LOGOUT") {
      s.info.outcome = "logout";
      co_await send(s, client, "* BYE zmproxy logging out\r\n" + tag + " OK LOGOUT completed\r\n");
      co_return Next::done;
    } else if (name == "ID") {
      if (!cmd.args.empty() && cmd.args[0].kind == Arg::Kind::list) {
        const auto& items = cmd.args[0].children;
        for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
          const auto key = arg_string(items[i]);
          const auto value = arg_string(items[i + 1]);
          // Repeated to the mailbox in the proxy's own ID: printable only
          // (a literal may carry CR LF, which would start a command there).
          if (key && value && core::iequals(*key, "name")) {
            s.client_name = printable_ascii(*value, k_max_id_value);
          } else if (key && value && core::iequals(*key, "version")) {
            s.client_version = printable_ascii(*value, k_max_id_value);
          }
        }
      }
      if (!co_await send(s, client, "* ID (\"name\" \"zmproxy\" \"version\" \"" + std::string(k_version) +
                                        "\")\r\n" + tag + " OK ID completed\r\n")) {
        co_return Next::done;
      }
    } else if (name == "STARTTLS") {
      if (s.tls || s.shared->server_tls == nullptr || s.cfg.imap.starttls == StartTls::off) {
        if (!co_await send(s, client, tag + " BAD STARTTLS is not available here\r\n")) {
          co_return Next::done;
        }
        continue;
      }
      // Whatever the client sent after STARTTLS in clear is dropped unread,
      // and what it said in clear is forgotten (RFC 2595 section 4): the
      // dialogue starts again under TLS, within the same login budget.
      s.in.clear();
      s.parser.reset();
      s.client_name.clear();
      s.client_version.clear();
      if (!co_await send(s, client, tag + " OK Begin TLS negotiation now\r\n")) {
        co_return Next::done;
      }
      co_return Next::upgrade;
    } else if (name == "LOGIN") {
      if (cleartext_refused(s)) {
        if (!co_await send(s, client, tag + " NO [PRIVACYREQUIRED] Cleartext logins are disabled; use STARTTLS or IMAPS\r\n")) {
          co_return Next::done;
        }
        continue;
      }
      const auto user = cmd.args.size() == 2 ? arg_string(cmd.args[0]) : std::nullopt;
      const auto pass = cmd.args.size() == 2 ? arg_string(cmd.args[1]) : std::nullopt;
      if (!user || !pass) {
        if (!co_await send(s, client, tag + " BAD LOGIN takes a user name and a password\r\n")) {
          co_return Next::done;
        }
        continue;
      }
      Login l{tag, "LOGIN", SaslMechanism::plain, *user, {}, {}, *pass};
      co_await do_login(s, client, std::move(l));
      co_return Next::done;
    } else if (name == "AUTHENTICATE") {
      const auto mech_name = !cmd.args.empty() ? arg_string(cmd.args[0]) : std::nullopt;
      const SaslMechanism mech = mech_name ? parse_sasl_mechanism(*mech_name) : SaslMechanism::unknown;
      const bool supported = mech == SaslMechanism::plain || mech == SaslMechanism::login ||
                             mech == SaslMechanism::xoauth2 || mech == SaslMechanism::oauthbearer;
      if (!supported || (mech == SaslMechanism::plain && !s.cfg.imap.sasl_plain)) {
        if (!co_await send(s, client, tag + " NO [CANNOT] mechanism not supported\r\n")) {
          co_return Next::done;
        }
        continue;
      }
      if (cleartext_refused(s)) {
        if (!co_await send(s, client, tag + " NO [PRIVACYREQUIRED] Cleartext authentication is disabled; use STARTTLS or IMAPS\r\n")) {
          co_return Next::done;
        }
        continue;
      }
      std::optional<std::string> ir;
      if (cmd.args.size() >= 2) {
        ir = arg_string(cmd.args[1]).value_or(std::string("\x01"));  // not base64: refused below
      }
      auto cred = co_await read_sasl_credentials(client, s.in, s.info, s.budget, mech, std::move(ir));
      if (cred.outcome == SaslCredentials::Outcome::closed) {
        co_return Next::done;
      }
      if (cred.outcome != SaslCredentials::Outcome::ok) {
        const std::string reply = cred.outcome == SaslCredentials::Outcome::cancelled
                                      ? tag + " BAD AUTHENTICATE aborted\r\n"
                                      : tag + " BAD [CLIENTBUG] " + cred.error + "\r\n";
        if (!co_await send(s, client, reply)) {
          co_return Next::done;
        }
        continue;
      }
      Login l{tag, "AUTHENTICATE", mech, std::move(cred.user), {}, std::move(cred.authzid), std::move(cred.password)};
      co_await do_login(s, client, std::move(l));
      co_return Next::done;
    } else {
      if (++s.bad > k_max_bad_commands) {
        s.info.outcome = "too-many-errors";
        co_await send(s, client, "* BYE too many invalid commands\r\n");
        co_return Next::done;
      }
      if (!co_await send(s, client, tag + " BAD [CLIENTBUG] " + name + " is not valid before login\r\n")) {
        co_return Next::done;
      }
    }
  }
}

}  // namespace

awaitable<void> run_session(std::shared_ptr<const Generation> shared, tcp::socket socket, bool implicit_tls,
                            ConnectionSlot slot) {
  ProtocolCounters& counters =
      shared->counters->of(implicit_tls ? Protocol::imaps : Protocol::imap);
  const config::ProxyConfig& cfg = *shared->config;
  State s{shared, cfg, counters, describe_peer(socket, implicit_tls ? "imaps" : "imap"),
          LoginBudget(cfg.imap.idle_timeout, cfg.imap.login_timeout, Clock::now())};
  s.slot = std::move(slot);
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  try {
    if (implicit_tls) {
      if (shared->server_tls) {
        TlsStream tls(std::move(socket), *shared->server_tls);
        if (co_await handshake(tls, asio::ssl::stream_base::server, s.wait())) {
          s.tls = true;
          co_await preauth(s, tls, true);
          if (!s.handed_off) {
            co_await tls.async_shutdown(net::use_nothrow);
          }
        } else {
          s.info.outcome = "tls-failed";
        }
      }
    } else {
      const Next next = co_await preauth(s, socket, true);
      if (next == Next::upgrade) {
        TlsStream tls(std::move(socket), *shared->server_tls);
        if (co_await handshake(tls, asio::ssl::stream_base::server, s.wait())) {
          s.tls = true;
          co_await preauth(s, tls, false);
        } else {
          s.info.outcome = "tls-failed";
        }
      }
    }
  } catch (const std::exception& e) {
    s.info.outcome = "error";
    ZMPROXY_LOG(error, "imap", "{}: session failed: {}", s.info.client_ip, e.what());
  }
  if (!s.handed_off) {
    s.info.log_to(*shared->access_log);
  }
}

}  // namespace zmproxy::proxy::imap

#include "lib/proxy/pop3/client_session.hpp"

#include "lib/core/strings.hpp"
#include "lib/core/version.hpp"
#include "lib/log/logger.hpp"
#include "lib/proxy/mail/login_budget.hpp"
#include "lib/proxy/mail/sasl_exchange.hpp"
#include "lib/proxy/mail/upstream_text.hpp"
#include "lib/proxy/mail/relay.hpp"
#include "lib/proxy/mail/session.hpp"
#include "lib/proxy/pop3/command_parser.hpp"
#include "lib/proxy/pop3/response_parser.hpp"
#include "lib/route/route_resolver_asio.hpp"

namespace zmproxy::proxy::pop3 {

namespace {

using namespace mail;
using config::StartTls;

constexpr int k_max_bad_commands = 10;

enum class Next { done, upgrade };

struct Login {
  bool sasl = false;
  SaslMechanism mechanism = SaslMechanism::plain;
  std::string user;
  std::string suffix;
  std::string authzid;
  std::string password;  // or the OAuth initial response
};

struct State {
  std::shared_ptr<const Generation> shared;
  const config::ProxyConfig& cfg;
  ProtocolCounters& counters;  // the listener's: logins and failures
  SessionInfo info{};
  LoginBudget budget;
  std::string in{};
  CommandParser parser{};
  bool tls = false;
  int bad = 0;
  std::string user{};  // from USER
  ConnectionSlot slot{};
  bool handed_off = false;  // the relay owns the connections and the bookkeeping
  bool logging_in = false;  // the client's login is under way: the budget no longer applies

  std::chrono::milliseconds idle() const { return cfg.pop3.idle_timeout; }
  // How long a read before login may wait (see LoginBudget).
  std::chrono::milliseconds wait() const { return budget.wait(Clock::now()); }

  SessionEnd hand_off_end() {
    handed_off = true;
    return SessionEnd{shared, std::move(info), std::move(slot)};
  }
};

bool cleartext_refused(const State& s) {
  return !s.tls && s.shared->server_tls != nullptr && s.cfg.pop3.starttls == StartTls::only;
}

template <class Stream>
awaitable<bool> send(State& s, Stream& client, std::string_view text) {
  // Before login a client that does not read is bounded by the login budget too.
  co_return co_await write_all(client, text, s.logging_in ? s.idle() : s.wait(), s.info.bytes_out);
}

std::string capa(const State& s) {
  std::string out = "+OK Capability list follows\r\n";
  const bool only = cleartext_refused(s);
  for (const std::string& c : s.cfg.pop3.capabilities) {
    if (core::istarts_with(c, "SASL") || core::iequals(c, "STLS") || core::istarts_with(c, "IMPLEMENTATION")) {
      continue;
    }
    if (only && core::iequals(c, "USER")) {
      continue;
    }
    out += c + "\r\n";
  }
  if (!only && s.cfg.pop3.sasl_plain) {
    out += "SASL PLAIN LOGIN\r\n";
  }
  if (!s.tls && s.shared->server_tls != nullptr && s.cfg.pop3.starttls != StartTls::off) {
    out += "STLS\r\n";
  }
  out += ".\r\n";
  return out;
}

template <class Upstream>
struct UpstreamIo {
  Upstream& stream;
  std::string buf;
  ResponseParser parser;
  std::chrono::milliseconds timeout;
  std::uint64_t in = 0;
  std::uint64_t out = 0;
};

template <class Upstream>
awaitable<std::optional<Response>> next_response(UpstreamIo<Upstream>& io) {
  while (true) {
    auto step = io.parser.feed(io.buf);
    io.buf.erase(0, step.consumed);
    if (step.status == ResponseParser::Status::response_ready) {
      co_return io.parser.take();
    }
    if (step.status != ResponseParser::Status::need_more) {
      co_return std::nullopt;
    }
    bool timed_out = false;
    if (!co_await read_some(io.stream, io.buf, io.timeout, timed_out, io.in)) {
      co_return std::nullopt;
    }
  }
}

template <class Client>
awaitable<void> unavailable(State& s, Client& client, const std::string& where, std::string_view why) {
  ZMPROXY_LOG(warn, "pop3", "{} -> {}: {}", s.info.client_ip, where, why);
  s.info.outcome = "unavailable";
  co_await send(s, client, "-ERR [SYS/TEMP] The mailbox server is not responding; try again later\r\n");
}

// One command, one reply: the proxy never has a second command in flight,
// and a reply followed by bytes the mailbox did not owe is a protocol error.
// So no reply can be taken for another's (USER's +OK for PASS's verdict, or
// XOIP's for AUTH's).
template <class Upstream>
awaitable<std::optional<Response>> command_reply(UpstreamIo<Upstream>& io, std::string_view command) {
  if (!co_await write_upstream(io.stream, command, io.timeout, io.out)) {
    co_return std::nullopt;
  }
  auto r = co_await next_response(io);
  if (!r || !io.buf.empty()) {
    co_return std::nullopt;
  }
  co_return r;
}

template <class Client, class Upstream>
awaitable<void> login_upstream(State& s, Client& client, Upstream& up, Login login, route::Route route) {
  UpstreamIo<Upstream> io{up, {}, {}, s.cfg.upstream.connect_timeout};
  const std::string where = route.host + ":" + std::to_string(route.port);
  auto greeting = co_await next_response(io);
  if (!greeting || greeting->kind != Response::Kind::ok || !io.buf.empty()) {
    co_await unavailable(s, client, where, "no POP3 greeting");
    co_return;
  }
  const std::string upstream_user = route.user + login.suffix;
  if (!safe_login_name(upstream_user)) {
    co_await unavailable(s, client, where, "the route names a user with a control character");
    co_return;
  }
  if (s.cfg.pop3.send_client_address) {
    // Its answer, +OK or -ERR, only has to be there before the login goes.
    const std::string command =
        greeting_offers(greeting->raw, "XCLIENT")
            ? "XCLIENT ADDR=" + s.info.client_ip + " PORT=" + std::to_string(s.info.client_port) + "\r\n"
            : "XOIP " + s.info.client_ip + "\r\n";
    if (!co_await command_reply(io, command)) {
      co_await unavailable(s, client, where, "no answer to the client's address");
      co_return;
    }
  }
  std::optional<Response> verdict;
  if (!login.sasl) {
    const std::string user = "USER " + upstream_user + "\r\n";
    verdict = co_await command_reply(io, user);
    if (verdict && verdict->kind == Response::Kind::ok) {
      const std::string pass = "PASS " + login.password + "\r\n";
      verdict = co_await command_reply(io, pass);
    }
  } else {
    const std::string command =
        login.mechanism == SaslMechanism::plain || login.mechanism == SaslMechanism::login
            ? "AUTH PLAIN " + encode_plain(PlainCredentials{login.authzid, upstream_user, login.password}) + "\r\n"
            : "AUTH " + std::string(sasl_mechanism_name(login.mechanism)) + " " +
                  encode_initial_response(login.password) + "\r\n";
    verdict = co_await command_reply(io, command);
    if (verdict && verdict->kind == Response::Kind::continuation) {
      // An OAuth error challenge: finish the exchange to get the verdict.
      verdict = co_await command_reply(io, std::string_view("\r\n"));
    }
  }
  if (!verdict || verdict->kind == Response::Kind::continuation) {
    co_await unavailable(s, client, where, "connection lost or protocol error during login");
    co_return;
  }
  if (verdict->kind == Response::Kind::ok) {
    s.counters.logins++;
    s.info.user = upstream_user;
    if (!co_await send(s, client, verdict->raw)) {
      co_return;
    }
    if (!s.in.empty()) {
      if (!co_await write_all(up, s.in, io.timeout, s.info.bytes_in)) {
        co_return;
      }
      s.in.clear();
    }
    s.info.outcome = "ok";
    hand_off(std::move(client), std::move(up), s.hand_off_end(), s.cfg.pop3.authenticated_idle_timeout);
    co_return;
  }
  s.counters.login_failures++;
  s.info.outcome = "auth-failed";
  co_await pause_for(s.cfg.upstream.auth_wait);
  co_await route::invalidate(s.shared->resolver, login.user, s.info.local_ip);
  // Built first: GCC 12 mishandles a temporary from ?: inside co_await.
  std::string reply = "-ERR [AUTH] Authentication failed\r\n";
  if (s.cfg.upstream.pass_errors) {
    reply = "-ERR " + verdict->text + "\r\n";
  }
  co_await send(s, client, reply);
}

template <class Client>
awaitable<void> do_login(State& s, Client& client, Login login) {
  s.logging_in = true;
  for (std::string_view sfx : {"/tb", "/wm", "/ni"}) {
    if (login.user.size() > sfx.size() &&
        core::iequals(std::string_view(login.user).substr(login.user.size() - sfx.size()), sfx)) {
      login.suffix = login.user.substr(login.user.size() - sfx.size());
      login.user.resize(login.user.size() - sfx.size());
      break;
    }
  }
  // Nothing that could end a line at the mailbox or in the lookup's headers.
  if (!safe_login_name(login.user) || login.user.size() > k_max_sasl_login ||
      (!login.authzid.empty() && !safe_login_name(login.authzid))) {
    co_await send(s, client, "-ERR [AUTH] invalid login name\r\n");
    co_return;
  }
  if (!safe_secret(login.password)) {
    co_await send(s, client, "-ERR [AUTH] a password may not hold CR, LF or NUL\r\n");
    co_return;
  }
  s.info.user = login.user;
  route::RouteQuery q;
  q.user = login.user;
  q.protocol = s.cfg.upstream.ssl ? "pop3ssl" : "pop3";
  q.client_ip = s.info.client_ip;
  q.proxy_ip = s.info.local_ip;
  auto connected = co_await connect_mailbox(s.shared, q, s.info, "pop3");
  if (auto* err = std::get_if<route::RouteError>(&connected)) {
    s.info.outcome = err->code == Errc::unavailable ? "unavailable" : "auth-failed";
    if (err->code == Errc::unavailable) {
      ZMPROXY_LOG(warn, "pop3", "{}: no mailbox for {}: {}", s.info.client_ip, login.user, err->message);
      const std::string reply = err->message.rfind("the mailbox server", 0) == 0 ? std::string("-ERR [SYS/TEMP] The mailbox server is not reachable; try again later\r\n") : std::string("-ERR [SYS/TEMP] Login service is unavailable; try again later\r\n");
      co_await send(s, client, reply);
      co_return;
    }
    ZMPROXY_LOG(info, "pop3", "{}: login as {} refused: {}", s.info.client_ip, login.user, err->message);
    s.counters.login_failures++;
    co_await pause_for(s.cfg.upstream.auth_wait);
    const std::string_view reply =
        login.sasl ? "-ERR [AUTH] authentication failed\r\n" : "-ERR [AUTH] LOGIN failed\r\n";
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

template <class Stream>
awaitable<Next> authorization(State& s, Stream& client, bool greet) {
  if (greet) {
    const std::string banner = s.cfg.pop3.expose_version
                                   ? "+OK zmproxy " + std::string(k_version) + " POP3 ready\r\n"
                                   : std::string("+OK POP3 ready\r\n");
    if (!co_await send(s, client, banner)) {
      co_return Next::done;
    }
  }
  while (true) {
    auto step = s.parser.feed(s.in);
    s.in.erase(0, step.consumed);
    if (step.status == CommandParser::Status::need_more) {
      bool timed_out = false;
      if (!co_await read_some(client, s.in, s.wait(), timed_out, s.info.bytes_in)) {
        if (timed_out && s.budget.expired(Clock::now())) {
          s.info.outcome = "login-timeout";
          co_await send(s, client, "-ERR login took too long; closing the connection\r\n");
        } else if (timed_out) {
          s.info.outcome = "timeout";
          co_await send(s, client, "-ERR idle too long; closing the connection\r\n");
        } else {
          s.info.outcome = "closed";
        }
        co_return Next::done;
      }
      continue;
    }
    if (step.status == CommandParser::Status::too_long) {
      s.info.outcome = "too-long";
      co_await send(s, client, "-ERR line too long\r\n");
      co_return Next::done;
    }
    if (step.status == CommandParser::Status::invalid) {
      if (++s.bad > k_max_bad_commands || !s.budget.take_command()) {
        s.info.outcome = "too-many-errors";
        co_await send(s, client, "-ERR too many invalid commands\r\n");
        co_return Next::done;
      }
      if (!co_await send(s, client, "-ERR " + std::string(step.reason) + "\r\n")) {
        co_return Next::done;
      }
      continue;
    }
    Command cmd = s.parser.take();
    const std::string& name = cmd.name;
    if (!s.budget.take_command()) {
      s.info.outcome = "too-many-commands";
      co_await send(s, client, "-ERR too many commands before login\r\n");
      co_return Next::done;
    }
    if (name == "CAPA") {
      if (!co_await send(s, client, capa(s))) {
        co_return Next::done;
      }
    } else if (name == "QUIT") {
      s.info.outcome = "quit";
      co_await send(s, client, "+OK bye\r\n");
      co_return Next::done;
    } else if (name == "NOOP") {
      if (!co_await send(s, client, "+OK\r\n")) {
        co_return Next::done;
      }
    } else if (name == "STLS") {
      if (s.tls || s.shared->server_tls == nullptr || s.cfg.pop3.starttls == StartTls::off) {
        if (!co_await send(s, client, "-ERR STLS is not available here\r\n")) {
          co_return Next::done;
        }
        continue;
      }
      // Nothing sent in clear after STLS is executed, and what was said in
      // clear is forgotten (RFC 2595 section 4): a USER from before the TLS
      // handshake does not name the account a PASS after it logs in to.
      s.in.clear();
      s.parser.reset();
      s.user.clear();
      if (!co_await send(s, client, "+OK Begin TLS negotiation\r\n")) {
        co_return Next::done;
      }
      co_return Next::upgrade;
    } else if (name == "USER") {
      if (cleartext_refused(s)) {
        if (!co_await send(s, client, "-ERR [AUTH] Cleartext logins are disabled; use STLS or POP3S\r\n")) {
          co_return Next::done;
        }
        continue;
      }
      if (cmd.rest.empty()) {
        if (!co_await send(s, client, "-ERR USER needs a name\r\n")) {
          co_return Next::done;
        }
        continue;
      }
      s.user = cmd.rest;
      if (!co_await send(s, client, "+OK\r\n")) {
        co_return Next::done;
      }
    } else if (name == "PASS") {
      if (cleartext_refused(s) || s.user.empty()) {
        if (!co_await send(s, client, s.user.empty() ? "-ERR send USER first\r\n"
                                                     : "-ERR [AUTH] Cleartext logins are disabled; use STLS or POP3S\r\n")) {
          co_return Next::done;
        }
        continue;
      }
      Login l;
      l.user = s.user;
      l.password = cmd.rest;
      co_await do_login(s, client, std::move(l));
      co_return Next::done;
    } else if (name == "AUTH") {
      if (cmd.args.empty()) {
        // RFC 1734 AUTH without a mechanism lists them.
        if (!co_await send(s, client, "+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n")) {
          co_return Next::done;
        }
        continue;
      }
      const SaslMechanism mech = parse_sasl_mechanism(cmd.args[0]);
      const bool supported = mech == SaslMechanism::plain || mech == SaslMechanism::login ||
                             mech == SaslMechanism::xoauth2 || mech == SaslMechanism::oauthbearer;
      if (!supported || (mech == SaslMechanism::plain && !s.cfg.pop3.sasl_plain)) {
        if (!co_await send(s, client, "-ERR mechanism not supported\r\n")) {
          co_return Next::done;
        }
        continue;
      }
      if (cleartext_refused(s)) {
        if (!co_await send(s, client, "-ERR [AUTH] Cleartext authentication is disabled; use STLS or POP3S\r\n")) {
          co_return Next::done;
        }
        continue;
      }
      std::optional<std::string> ir;
      if (cmd.args.size() >= 2) {
        ir = cmd.args[1];
      }
      auto cred = co_await read_sasl_credentials(client, s.in, s.info, s.budget, mech, std::move(ir));
      if (cred.outcome == SaslCredentials::Outcome::closed) {
        co_return Next::done;
      }
      if (cred.outcome != SaslCredentials::Outcome::ok) {
        const std::string reply = cred.outcome == SaslCredentials::Outcome::cancelled
                                      ? std::string("-ERR authentication aborted\r\n")
                                      : "-ERR " + cred.error + "\r\n";
        if (!co_await send(s, client, reply)) {
          co_return Next::done;
        }
        continue;
      }
      Login l;
      l.sasl = true;
      l.mechanism = mech;
      l.user = std::move(cred.user);
      l.authzid = std::move(cred.authzid);
      l.password = std::move(cred.password);
      co_await do_login(s, client, std::move(l));
      co_return Next::done;
    } else {
      if (++s.bad > k_max_bad_commands) {
        s.info.outcome = "too-many-errors";
        co_await send(s, client, "-ERR too many invalid commands\r\n");
        co_return Next::done;
      }
      if (!co_await send(s, client, "-ERR " + name + " is not valid before login\r\n")) {
        co_return Next::done;
      }
    }
  }
}

}  // namespace

awaitable<void> run_session(std::shared_ptr<const Generation> shared, tcp::socket socket, bool implicit_tls,
                            ConnectionSlot slot) {
  ProtocolCounters& counters =
      shared->counters->of(implicit_tls ? Protocol::pop3s : Protocol::pop3);
  const config::ProxyConfig& cfg = *shared->config;
  State s{shared, cfg, counters, describe_peer(socket, implicit_tls ? "pop3s" : "pop3"),
          LoginBudget(cfg.pop3.idle_timeout, cfg.pop3.login_timeout, Clock::now())};
  s.slot = std::move(slot);
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  try {
    if (implicit_tls) {
      if (shared->server_tls) {
        TlsStream tls(std::move(socket), *shared->server_tls);
        if (co_await handshake(tls, asio::ssl::stream_base::server, s.wait())) {
          s.tls = true;
          co_await authorization(s, tls, true);
          if (!s.handed_off) {
            co_await tls.async_shutdown(net::use_nothrow);
          }
        } else {
          s.info.outcome = "tls-failed";
        }
      }
    } else {
      const Next next = co_await authorization(s, socket, true);
      if (next == Next::upgrade) {
        TlsStream tls(std::move(socket), *shared->server_tls);
        if (co_await handshake(tls, asio::ssl::stream_base::server, s.wait())) {
          s.tls = true;
          co_await authorization(s, tls, false);
        } else {
          s.info.outcome = "tls-failed";
        }
      }
    }
  } catch (const std::exception& e) {
    s.info.outcome = "error";
    ZMPROXY_LOG(error, "pop3", "{}: session failed: {}", s.info.client_ip, e.what());
  }
  if (!s.handed_off) {
    s.info.log_to(*shared->access_log);
  }
}

}  // namespace zmproxy::proxy::pop3

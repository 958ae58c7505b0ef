#pragma once
// One mail session, IMAP or POP3, from accept to hand-off: the skeleton both
// protocols share, templated over a protocol's traits (nginx's
// ngx_mail_protocol_t table; Beast's CRTP session base). The driver owns the
// connection (plain, STARTTLS/STLS upgrade, implicit TLS), the pre-login
// read loop and its bounds (LoginBudget, the invalid-command cap), the
// STARTTLS reset, the SASL exchange, the login (name and password checks,
// route lookup, connect, the login at the mailbox), the verdict's tail
// (counters, auth_wait, forgetting the route, the hand-off to the relay with
// the client's pipelined bytes) and the access-log line.
//
// A protocol P (imap/client_session.cpp, pop3/client_session.cpp) gives:
//   k_protocol                its names, counters, settings and texts (MailProtocol)
//   Parser, parser_limits(settings, gssapi)   its command parser and its limits
//   k_gss_service             imap or pop: its Kerberos service name
//   Dialogue                  its own pre-login state: forget() (at STARTTLS),
//                             describe(MailboxLoginRequest&) (what the login repeats)
//   greeting(s), invalid_reply(s, reason), dispatch(s, client, command)
//   login_at_mailbox(mailbox, request)   its upstream_login.cpp
//   tagged(tag, text)         a reply line (IMAP: "tag text"; POP3: text)
//   k_literal_go_ahead        (IMAP) the "+" for a synchronising literal
// Instantiated only in the two client_session.cpp files (Asio heavy).
//
// GCC 12 (Debian 12's) miscompiles some temporaries in co_await: a reply
// built inside `co_await send(...)` in a branch without locals got a frame
// too small (zmproxyd crashed on STARTTLS), a braced class temporary passed
// by value to a coroutine was corrupted (it crashed after every login). So
// here and in the protocols a reply is built into a named string first, and
// a Login, an empty tag or an awaitable from ?: is named before co_await.
// The same holds for a capturing lambda turned into a coroutine's
// std::function parameter. The aggregate case is GCC PR 100611
// (https://gcc.gnu.org/bugzilla/show_bug.cgi?id=100611: one destructor too
// many, a double free); tests/unit/net/coroutine_temporaries_test.cpp pins
// each form.

#include "lib/config/proxy_config.hpp"
#include "lib/log/logger.hpp"
#include "lib/proxy/connection_slot.hpp"
#include "lib/proxy/ktls_count.hpp"
#include "lib/proxy/mail/login_budget.hpp"
#include "lib/proxy/mail/mailbox_login.hpp"
#include "lib/proxy/mail/relay.hpp"
#include "lib/proxy/mail/reply_texts.hpp"
#include "lib/proxy/mail/sasl_exchange.hpp"
#include "lib/proxy/mail/session.hpp"
#include "lib/proxy/mail/upstream_text.hpp"
#include "lib/proxy/throttle_gate.hpp"
#include "lib/route/route_resolver_asio.hpp"
#include "lib/tls/alpn.hpp"

#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace zmproxy::proxy::mail {

// What the pre-login dialogue does after a command.
enum class Next { more, done, upgrade };

inline constexpr int k_max_bad_commands = 10;

// P's text for a situation (reply_texts.hpp).
template <class P>
constexpr std::string_view say(const ReplyText& r) {
  return r.*(P::k_protocol.texts);
}

template <class P>
struct State {
  std::shared_ptr<const Generation> shared;
  const config::ProxyConfig& cfg;
  const config::MailSection& settings;  // cfg.imap or cfg.pop3
  ProtocolCounters& counters;           // the listener's: logins and failures
  SessionInfo info{};
  LoginBudget budget;
  std::string in{};  // client bytes not yet parsed
  typename P::Parser parser{P::parser_limits(settings, false)};  // fit_parser()
  typename P::Dialogue dialogue{};
  bool tls = false;
  int bad = 0;
  ConnectionSlot slot{};
  bool handed_off = false;  // the relay owns the connections and the bookkeeping
  bool logging_in = false;  // the client's login is under way: the budget no longer applies

  std::chrono::milliseconds idle() const { return settings.idle_timeout; }
  // How long a read before login may wait (see LoginBudget).
  std::chrono::milliseconds wait() const { return budget.wait(Clock::now()); }

  SessionEnd hand_off_end() {
    handed_off = true;
    return SessionEnd{shared, std::move(info), std::move(slot)};
  }
};

// STARTTLS/STLS may be offered: not under TLS yet, a certificate, not off.
template <class P>
bool starttls_offered(const State<P>& s) {
  return !s.tls && s.shared->server_tls != nullptr && s.settings.starttls != config::StartTls::off;
}

// A login in clear is refused: TLS is possible and required.
template <class P>
bool cleartext_refused(const State<P>& s) {
  return !s.tls && s.shared->server_tls != nullptr && s.settings.starttls == config::StartTls::only;
}

// GSSAPI is offered on this connection (gssapi_exchange.hpp): on for the
// protocol, a key for the address the client reached, and not a clear
// connection that must start TLS first.
template <class P>
bool gssapi_offered(const State<P>& s) {
  const GssapiGate* gate = s.shared->gssapi.get();
  return gate != nullptr && gate->offered(P::k_gss_service) && !cleartext_refused(s) &&
         gate->credentials(P::k_gss_service, s.info.local_ip) != nullptr;
}

// The command parser, with the limits of what this connection offers now
// (IMAP takes longer lines where GSSAPI is offered): at the start and after
// the TLS handshake, with nothing buffered.
template <class P>
void fit_parser(State<P>& s) {
  s.parser = typename P::Parser(P::parser_limits(s.settings, gssapi_offered(s)));
}

template <class P, class Stream>
awaitable<bool> send(State<P>& s, Stream& client, std::string_view text) {
  // Before login a client that does not read is bounded by the login budget too.
  co_return co_await write_all(client, text, s.logging_in ? s.idle() : s.wait(), s.info.bytes_out);
}

// Send a reply and go on with the dialogue (done when the client is gone).
template <class P, class Stream>
awaitable<Next> reply(State<P>& s, Stream& client, std::string_view text) {
  co_return co_await send(s, client, text) ? Next::more : Next::done;
}

// A command refused as invalid: counted; past the cap the session ends.
template <class P, class Stream>
awaitable<Next> refuse_command(State<P>& s, Stream& client, std::string_view text) {
  if (++s.bad > k_max_bad_commands) {
    s.info.outcome = "too-many-errors";
    co_await send(s, client, say<P>(k_bye_too_many_errors));
    co_return Next::done;
  }
  co_return co_await reply(s, client, text);
}

// More bytes from the client; false when it closed or timed out (it was told).
template <class P, class Stream>
awaitable<bool> read_more(State<P>& s, Stream& client) {
  bool timed_out = false;
  if (co_await read_some(client, s.in, s.wait(), timed_out, s.info.bytes_in)) {
    co_return true;
  }
  if (timed_out && s.budget.expired(Clock::now())) {
    s.info.outcome = "login-timeout";
    co_await send(s, client, say<P>(k_bye_login_timeout));
  } else if (timed_out) {
    s.info.outcome = "timeout";
    co_await send(s, client, say<P>(k_bye_idle));
  } else {
    s.info.outcome = "closed";
  }
  co_return false;
}

// The next whole command, or nullopt when the session ends (closed, timed
// out, a line too long, too many invalid commands; the client was told).
template <class P, class Stream>
awaitable<std::optional<decltype(std::declval<typename P::Parser&>().take())>> next_command(State<P>& s,
                                                                                              Stream& client) {
  using Status = typename P::Parser::Status;
  while (true) {
    auto step = s.parser.feed(s.in);
    s.in.erase(0, step.consumed);
    if (step.status == Status::command_ready) {
      co_return s.parser.take();
    }
    if (step.status == Status::need_more) {
      if (!co_await read_more(s, client)) {
        co_return std::nullopt;
      }
    } else if (step.status == Status::too_long) {
      s.info.outcome = "too-long";
      co_await send(s, client, say<P>(k_bye_too_long));
      co_return std::nullopt;
    } else if (step.status == Status::invalid) {
      if (++s.bad > k_max_bad_commands || !s.budget.take_command()) {
        s.info.outcome = "too-many-errors";
        co_await send(s, client, say<P>(k_bye_too_many_errors));
        co_return std::nullopt;
      }
      const std::string text = P::invalid_reply(s, step.reason);
      if (!co_await send(s, client, text)) {
        co_return std::nullopt;
      }
    } else if constexpr (requires { Status::need_continuation; }) {
      // An IMAP synchronising literal: the client waits for "+".
      if (!co_await send(s, client, P::k_literal_go_ahead)) {
        co_return std::nullopt;
      }
    }
  }
}

// ---- login throttling (throttle_gate.hpp) ----

// The per-address connection limit, before the greeting (after the TLS
// handshake of IMAPS/POP3S, as Zimbra). False: refused, the client told.
template <class P, class Stream>
awaitable<bool> address_allowed(State<P>& s, Stream& client) {
  ThrottleGate* gate = s.shared->throttle.get();
  if (gate == nullptr) {
    co_return true;
  }
  std::string ip = s.info.client_ip;
  awaitable<throttle::Decision> check =
      gate->on_connection(P::k_protocol.counted_as, std::move(ip));
  const throttle::Decision d = co_await std::move(check);
  if (d.allowed()) {
    co_return true;
  }
  s.counters.throttled++;
  s.info.outcome = "throttled:ip-limit";
  const std::string text =
      std::string(say<P>(k_bye_throttled_address)) + gate->settings().ip_message + "\r\n";
  co_await send(s, client, text);
  co_return false;
}

// A login refused by throttling (the user limit, or the pair's failures past
// the lock): the client told, the session ends.
template <class P, class Stream>
awaitable<void> refuse_login(State<P>& s,
                             Stream& client,
                             const Login& login,
                             const throttle::Decision& d) {
  s.counters.throttled++;
  s.info.outcome = std::string("throttled:") + throttle::reason_name(d.reason);
  const std::string_view why = d.reason == throttle::Reason::user_limit
                                   ? std::string_view(s.shared->throttle->settings().user_message)
                                   : k_failed_logins_text;
  std::string text;
  if (const std::string_view bye = say<P>(k_bye_throttled_login); !bye.empty()) {
    text.append(bye).append(why).append("\r\n");
  }
  text += P::tagged(login.tag, std::string(say<P>(k_throttled_login)).append(why));
  co_await send(s, client, text);
}

// Before the lookup: the user limit and the pair's failures. False:
// refused (the client told); else the pair's wait (the tarpit) is over.
template <class P, class Stream>
awaitable<bool> login_allowed(State<P>& s,
                              Stream& client,
                              const Login& login,
                              throttle::Decision& before) {
  ThrottleGate* gate = s.shared->throttle.get();
  if (gate == nullptr) {
    co_return true;
  }
  std::string user = login.user;
  std::string ip = s.info.client_ip;
  awaitable<throttle::Decision> check =
      gate->before_login(LoginKind::mail, std::move(user), std::move(ip));
  before = co_await std::move(check);
  if (!before.allowed()) {
    co_await refuse_login(s, client, login, before);
    co_return false;
  }
  if (before.delay.count() > 0) {
    s.info.detail = "tarpit=" + std::to_string(before.delay.count()) + "ms";
    co_await pause_for(before.delay);
  }
  co_return true;
}

// A refused login counts against the pair (user, client address); then the
// client waits upstream.auth_wait before it is told.
template <class P>
awaitable<void> failed_login_wait(State<P>& s,
                                  const Login& login,
                                  const throttle::Decision& before) {
  if (ThrottleGate* gate = s.shared->throttle.get()) {
    std::string user = login.user;
    std::string ip = s.info.client_ip;
    awaitable<throttle::Decision> count =
        gate->after_login_failure(std::move(user), std::move(ip), before);
    co_await std::move(count);
  }
  co_await pause_for(s.cfg.upstream.auth_wait);
}

// The pre-login dialogue on one stream. Returns upgrade after STARTTLS/STLS.
template <class P, class Stream>
awaitable<Next> dialogue(State<P>& s, Stream& client, bool greet) {
  if (greet && !co_await address_allowed(s, client)) {
    co_return Next::done;
  }
  if (greet) {
    const std::string text = P::greeting(s);
    if (!co_await send(s, client, text)) {
      co_return Next::done;
    }
  }
  while (true) {
    auto command = co_await next_command(s, client);
    if (!command) {
      co_return Next::done;
    }
    if (!s.budget.take_command()) {
      s.info.outcome = "too-many-commands";
      co_await send(s, client, say<P>(k_bye_too_many_commands));
      co_return Next::done;
    }
    const Next next = co_await P::dispatch(s, client, std::move(*command));
    if (next != Next::more) {
      co_return next;
    }
  }
}

// STARTTLS / STLS. Whatever the client sent after it in clear is dropped
// unread, and what it said in clear is forgotten (RFC 2595 section 4): the
// dialogue starts again under TLS, within the same login budget.
template <class P, class Stream>
awaitable<Next> start_tls(State<P>& s, Stream& client, std::string_view tag) {
  if (!starttls_offered(s)) {
    const std::string text = P::tagged(tag, say<P>(k_tls_refused));
    co_return co_await reply(s, client, text);
  }
  s.in.clear();
  s.parser.reset();
  s.dialogue.forget();
  const std::string text = P::tagged(tag, say<P>(k_tls_go));
  if (!co_await send(s, client, text)) {
    co_return Next::done;
  }
  co_return Next::upgrade;
}

// ---- the login ----

// The login at the mailbox (P's upstream_login.cpp), and what follows its
// verdict: unavailable, refused (wait, forget the route, tell the client), or
// accepted (the mailbox's reply to the client, the client's pipelined
// commands to the mailbox, both connections to the relay).
template <class P, class Client, class Upstream>
awaitable<void> login_at(State<P>& s,
                         Client& client,
                         Upstream& up,
                         Login login,
                         route::Route route,
                         throttle::Decision before) {
  const std::string where = route.host + ":" + std::to_string(route.port);
  MailboxLoginRequest request;
  request.login = login;
  request.route = std::move(route);
  request.client_ip = s.info.client_ip;
  request.client_port = s.info.client_port;
  request.local_ip = s.info.local_ip;
  request.send_client_address = s.settings.send_client_address;
  request.timeout = s.cfg.upstream.connect_timeout;
  s.dialogue.describe(request);
  MailboxVerdict verdict = co_await P::login_at_mailbox(up, request);
  if (verdict.kind == MailboxVerdict::Kind::unavailable) {
    ZMPROXY_LOG(warn, P::k_protocol.name, "{} -> {}: {}", s.info.client_ip, where, verdict.why);
    s.info.outcome = "unavailable";
    const std::string text = P::tagged(login.tag, say<P>(k_mailbox_not_responding));
    co_await send(s, client, text);
    co_return;
  }
  if (verdict.kind == MailboxVerdict::Kind::refused) {
    s.counters.login_failures++;
    s.info.outcome = "auth-failed";
    co_await failed_login_wait(s, login, before);
    // The route may be stale (a moved mailbox): dropped unless it was just
    // looked up, at most once per user per refusal interval (forget_refused).
    co_await route::forget_refused(s.shared->resolver, login.user, s.info.local_ip,
                                   request.route.source == route::Route::Source::handler);
    std::string text = P::tagged(login.tag, say<P>(login.sasl ? k_mailbox_refused_sasl : k_mailbox_refused_login));
    if (s.cfg.upstream.pass_errors) {
      text = P::tagged(login.tag, std::string(say<P>(k_mailbox_said)) + verdict.reply);
    }
    co_await send(s, client, text);
    co_return;
  }
  if (ThrottleGate* gate = s.shared->throttle.get()) {
    std::string user = login.user;
    std::string ip = s.info.client_ip;
    awaitable<throttle::Decision> count =
        gate->after_login_success(LoginKind::mail, std::move(user), std::move(ip), before);
    const throttle::Decision after = co_await std::move(count);
    if (!after.allowed()) {
      // Over the user limit: the mailbox connection is dropped unused.
      co_await refuse_login(s, client, login, after);
      co_return;
    }
  }
  s.counters.logins++;
  s.info.user = login.account.empty() ? verdict.user : login.account;
  if (!co_await send(s, client, verdict.reply)) {
    co_return;
  }
  if (!s.in.empty()) {
    if (!co_await write_all(up, s.in, s.cfg.upstream.connect_timeout, s.info.bytes_in)) {
      co_return;
    }
    s.in.clear();
  }
  s.info.outcome = "ok";
  hand_off(std::move(client), std::move(up), s.hand_off_end(), s.settings.authenticated_idle_timeout);
}

// The lookup found no mailbox: unavailable (ours), or refused (the user's).
template <class P, class Stream>
awaitable<void> route_failed(State<P>& s,
                             Stream& client,
                             const Login& login,
                             const route::RouteError& err,
                             const throttle::Decision& before) {
  s.info.outcome = err.code == Errc::unavailable ? "unavailable" : "auth-failed";
  if (err.code == Errc::unavailable) {
    ZMPROXY_LOG(warn, P::k_protocol.name, "{}: no mailbox for {}: {}", s.info.client_ip, login.user, err.message);
    const std::string text = err.message.rfind("the mailbox server", 0) == 0
                                 ? P::tagged(login.tag, say<P>(k_mailbox_unreachable))
                                 : P::tagged(login.tag, say<P>(k_lookup_unavailable));
    co_await send(s, client, text);
    co_return;
  }
  ZMPROXY_LOG(info, P::k_protocol.name, "{}: login as {} refused: {}", s.info.client_ip, login.user, err.message);
  s.counters.login_failures++;
  co_await failed_login_wait(s, login, before);
  const std::string text = P::tagged(login.tag, say<P>(login.sasl ? k_route_refused_sasl : k_route_refused_login));
  co_await send(s, client, text);
}

// The client's login: checked, looked up, connected, tried at the mailbox.
// The session ends after it (handed off to the relay, or closed).
template <class P, class Stream>
awaitable<void> do_login(State<P>& s, Stream& client, Login login) {
  s.logging_in = true;
  strip_suffix(login);
  // Nothing that could end a line at the mailbox or in the lookup's headers.
  if (!safe_login_name(login.user) || login.user.size() > k_max_sasl_login ||
      (!login.authzid.empty() && !safe_login_name(login.authzid))) {
    const std::string text = P::tagged(login.tag, say<P>(k_invalid_login_name));
    co_await send(s, client, text);
    co_return;
  }
  if (!safe_secret(login.password)) {
    const std::string text = P::tagged(login.tag, say<P>(k_bad_password));
    co_await send(s, client, text);
    co_return;
  }
  s.info.user = login.user;
  throttle::Decision before;
  if (!co_await login_allowed(s, client, login, before)) {
    co_return;
  }
  route::RouteQuery q;
  q.user = login.user;
  q.protocol = std::string(P::k_protocol.name) + (s.cfg.upstream.ssl ? "ssl" : "");
  q.client_ip = s.info.client_ip;
  q.proxy_ip = s.info.local_ip;
  auto connected = co_await connect_mailbox(s.shared, q, s.info, P::k_protocol.name);
  if (auto* err = std::get_if<route::RouteError>(&connected)) {
    co_await route_failed(s, client, login, *err, before);
    co_return;
  }
  auto& mailbox = std::get<MailboxConnection>(connected);
  if (auto* plain = std::get_if<std::unique_ptr<tcp::socket>>(&mailbox.stream)) {
    co_await login_at(s, client, **plain, std::move(login), mailbox.route, before);
  } else {
    count_ktls(*std::get<std::unique_ptr<TlsStream>>(mailbox.stream), s.counters);
    co_await login_at(s, client, *std::get<std::unique_ptr<TlsStream>>(mailbox.stream),
                      std::move(login), mailbox.route, before);
  }
}

// A login with a SASL mechanism (IMAP AUTHENTICATE, POP3 AUTH): the
// mechanism checked, the exchange with the client, then do_login.
template <class P, class Stream>
awaitable<Next> authenticate(State<P>& s, Stream& client, std::string_view tag, SaslMechanism mech,
                             std::optional<std::string> initial_response) {
  const bool supported = mech == SaslMechanism::plain || mech == SaslMechanism::login ||
                         mech == SaslMechanism::xoauth2 || mech == SaslMechanism::oauthbearer;
  if (!supported || (mech == SaslMechanism::plain && !s.settings.sasl_plain)) {
    const std::string text = P::tagged(tag, say<P>(k_no_mechanism));
    co_return co_await reply(s, client, text);
  }
  if (cleartext_refused(s)) {
    const std::string text = P::tagged(tag, say<P>(k_cleartext_auth));
    co_return co_await reply(s, client, text);
  }
  auto cred = co_await read_sasl_credentials(client, s.in, s.info, s.budget, mech, std::move(initial_response));
  using Outcome = SaslCredentials::Outcome;
  if (cred.outcome == Outcome::closed) {
    co_return Next::done;
  }
  if (cred.outcome != Outcome::ok) {
    const std::string text = cred.outcome == Outcome::cancelled
                                 ? P::tagged(tag, say<P>(k_sasl_cancelled))
                                 : P::tagged(tag, std::string(say<P>(k_sasl_invalid)) + cred.error);
    co_return co_await reply(s, client, text);
  }
  Login login{std::string(tag), true, mech, std::move(cred.user), {}, std::move(cred.authzid),
              std::move(cred.password), {}};
  co_await do_login(s, client, std::move(login));
  co_return Next::done;
}

// ---- the connection ----

// What ALPN may name on this protocol's TLS (lib/tls/alpn.hpp: any other
// offer is refused at the handshake, against cross-protocol attacks).
template <class P>
constexpr tls::AlpnRole alpn_role() {
  return std::string_view(P::k_protocol.name) == "imap" ? tls::AlpnRole::imap : tls::AlpnRole::pop3;
}

template <class P>
awaitable<void> run_connection(State<P>& s, tcp::socket& socket, bool implicit_tls) {
  const auto& server_tls = s.shared->server_tls;
  if (implicit_tls) {
    if (server_tls) {
      TlsStream tls(std::move(socket), *server_tls);
      tls::expect_alpn(tls.native_handle(), alpn_role<P>());
      if (co_await handshake(tls, asio::ssl::stream_base::server, s.wait())) {
        count_ktls(tls, s.counters);
        s.tls = true;
        fit_parser(s);
        co_await dialogue(s, tls, true);
        if (!s.handed_off) {
          co_await tls.async_shutdown(net::use_nothrow);
        }
      } else {
        s.info.outcome = "tls-failed";
      }
    }
    co_return;
  }
  if (co_await dialogue(s, socket, true) == Next::upgrade) {
    TlsStream tls(std::move(socket), *server_tls);
    tls::expect_alpn(tls.native_handle(), alpn_role<P>());
    if (co_await handshake(tls, asio::ssl::stream_base::server, s.wait())) {
      count_ktls(tls, s.counters);
      s.tls = true;
      fit_parser(s);
      co_await dialogue(s, tls, false);
    } else {
      s.info.outcome = "tls-failed";
    }
  }
}

// One client connection, from greeting to logout or hand-off. Never throws.
template <class P>
awaitable<void> run_session(std::shared_ptr<const Generation> shared, tcp::socket socket, bool implicit_tls,
                            ConnectionSlot slot, std::optional<tcp::endpoint> client,
                            std::optional<tcp::endpoint> local) {
  constexpr const MailProtocol& protocol = P::k_protocol;
  ProtocolCounters& counters = shared->counters->of(implicit_tls ? protocol.implicit_tls : protocol.plain);
  const config::ProxyConfig& cfg = *shared->config;
  const config::MailSection& settings = cfg.*(protocol.settings);
  State<P> s{shared, cfg, settings, counters, describe_peer(socket, implicit_tls ? protocol.tls_name : protocol.name, client, local),
             LoginBudget(settings.idle_timeout, settings.login_timeout, Clock::now())};
  s.slot = std::move(slot);
  fit_parser(s);
  // TCP_NODELAY: from the listener (lib/server/listeners.cpp).
  try {
    co_await run_connection(s, socket, implicit_tls);
  } catch (const std::exception& e) {
    s.info.outcome = "error";
    ZMPROXY_LOG(error, P::k_protocol.name, "{}: session failed: {}", s.info.client_ip, e.what());
  }
  if (!s.handed_off) {
    s.info.log_to(*shared->access_log);
  }
}

}  // namespace zmproxy::proxy::mail

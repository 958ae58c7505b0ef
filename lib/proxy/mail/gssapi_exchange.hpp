#pragma once
// A Kerberos login at the proxy: SASL GSSAPI (RFC 4752) over IMAP
// AUTHENTICATE (RFC 4959's initial response allowed) and POP3 AUTH
// (RFC 5034), then the gssapi lookup and the login at the mailbox with what
// it gave (kerberos_login.hpp). The driver's other half for this mechanism:
// included by the two client_session.cpp files instead of
// session_driver.hpp.
//
// The exchange: each client token goes into the context on the
// GssapiGate's accept thread (a worker never runs MIT's accept), waited for
// within the login's time; a busy thread is "[UNAVAILABLE]", the session
// going on; the server's tokens go back as "+ <base64>" challenges. Once the context is complete
// (its last token, if any, answered by an empty response), the server's
// wrapped security-layer offer (no layer, maximum buffer 0) and the
// client's wrapped answer carry the authorization identity. Then:
//   - the gssapi lookup (RouteQuery::gssapi_principal; never cached) maps
//     the principal to its account and gives a token;
//   - the user limit of login throttling is checked for the account, before
//     the mailbox is connected (connect_route);
//   - the login at the mailbox: Dovecot master user, or X-ZIMBRA with the
//     token ([kerberos] upstream_login);
//   - the access log names the account, its detail the principal.
//
// A context that fails (a ticket for another service, an expired or
// forged one) is "NO [AUTHENTICATIONFAILED]" / "-ERR [AUTH]" with the cause
// in the log, counted as a failed login and as an invalid command: the
// client may go on with another mechanism on the same connection, within
// the invalid-command cap. A refused lookup (a principal with no account,
// a proxy the handler does not trust) ends the session as any refused login.

#include "lib/core/base64.hpp"
#include "lib/krb5/gss_acceptor.hpp"
#include "lib/proxy/gssapi_gate.hpp"
#include "lib/proxy/mail/kerberos_login.hpp"
#include "lib/proxy/mail/session_driver.hpp"

namespace zmproxy::proxy::mail {

inline constexpr ReplyText k_gssapi_failed{
    "NO [AUTHENTICATIONFAILED] GSSAPI authentication failed",
    "-ERR [AUTH] GSSAPI authentication failed"};
inline constexpr ReplyText k_gssapi_unavailable{
    "NO [UNAVAILABLE] GSSAPI is not available now; try again later or use another mechanism",
    "-ERR [SYS/TEMP] GSSAPI is not available now; try again later or use another mechanism"};

// One client response of the exchange, decoded: nullopt when the session
// ended (closed, timed out, a line over the limit); `cancelled` when the
// client sent "*"; `error` when it was not base64.
struct GssResponse {
  bool cancelled = false;
  std::string error;
  std::string data;
};

inline constexpr std::string_view k_no_token{};

template <class P, class Stream>
awaitable<std::optional<GssResponse>> gss_challenge(State<P>& s, Stream& client, std::string_view token) {
  const std::string text = "+ " + core::base64_encode(token) + "\r\n";
  if (!co_await send(s, client, text)) {
    co_return std::nullopt;
  }
  auto line = co_await read_sasl_line(client, s.in, s.info, s.budget, k_max_gssapi_response);
  if (!line) {
    co_return std::nullopt;
  }
  SaslResponse r = decode_continuation(*line, k_max_gssapi_response);
  GssResponse out;
  out.cancelled = r.kind == SaslResponseKind::cancel;
  if (r.kind == SaslResponseKind::error) {
    out.error = std::string(sasl_error_text(r.error));
  }
  out.data = std::move(r.data);
  co_return out;
}

// The context failed: the client told, the cause logged, the failure
// counted. The session goes on (another mechanism may follow).
template <class P, class Stream>
awaitable<Next> gss_refused(State<P>& s, Stream& client, std::string_view tag, std::string_view why) {
  ZMPROXY_LOG(info, P::k_protocol.name, "{}: GSSAPI login refused: {}", s.info.client_ip, why);
  s.counters.login_failures++;
  const std::string text = P::tagged(tag, say<P>(k_gssapi_failed));
  co_return co_await refuse_command(s, client, text);
}

// The account's login: the gssapi lookup, the user limit, the mailbox.
template <class P, class Stream>
awaitable<void> kerberos_login(State<P>& s, Stream& client, std::string_view tag, std::string principal,
                               std::string authzid) {
  s.logging_in = true;
  Login login;
  login.tag = std::string(tag);
  login.sasl = true;
  login.mechanism = SaslMechanism::gssapi;
  login.user = authzid.empty() ? principal : authzid;
  if (!safe_login_name(principal) || principal.size() > k_max_sasl_login ||
      (!authzid.empty() && (!safe_login_name(authzid) || authzid.size() > k_max_sasl_login))) {
    const std::string text = P::tagged(tag, say<P>(k_invalid_login_name));
    co_await send(s, client, text);
    co_return;
  }
  s.info.user = login.user;
  s.info.detail = "gssapi=" + principal;
  route::RouteQuery q;
  q.user = authzid;
  q.gssapi_principal = principal;
  q.protocol = std::string(P::k_protocol.name) + (s.cfg.upstream.ssl ? "ssl" : "");
  q.client_ip = s.info.client_ip;
  q.proxy_ip = s.info.local_ip;
  auto resolved = co_await route::resolve(s.shared->resolver, q);
  throttle::Decision before;
  if (auto* err = std::get_if<route::RouteError>(&resolved)) {
    co_await route_failed(s, client, login, *err, before);
    co_return;
  }
  route::Route route = std::move(std::get<route::Route>(resolved));
  KerberosUpstreamSettings upstream;
  upstream.form = s.cfg.kerberos.upstream_login == "dovecot-master" ? KerberosUpstreamForm::dovecot_master
                                                                     : KerberosUpstreamForm::zimbra;
  upstream.master_user = s.cfg.kerberos.master_user;
  upstream.master_password = s.cfg.kerberos.master_password;
  auto built = kerberos_upstream_login(route.user, route.token, upstream, login.tag);
  route.token.clear();
  if (!built) {
    ZMPROXY_LOG(error, P::k_protocol.name, "{}: GSSAPI login of {} not sent: {}", s.info.client_ip, principal,
                built.error().message);
    s.info.outcome = "unavailable";
    const std::string text = P::tagged(tag, say<P>(k_gssapi_unavailable));
    co_await send(s, client, text);
    co_return;
  }
  Login upstream_login = std::move(built->login);
  upstream_login.account = route.user;
  s.info.user = route.user;
  // The user limit, for the account the principal maps to, before the
  // mailbox is connected (a refused or delayed login holds no connection).
  if (!co_await login_allowed(s, client, upstream_login, before)) {
    co_return;
  }
  route.user = std::move(built->authcid);
  auto connected = co_await connect_route(s.shared, std::move(route), s.info);
  if (auto* err = std::get_if<route::RouteError>(&connected)) {
    co_await route_failed(s, client, upstream_login, *err, before);
    co_return;
  }
  if (auto* unreachable = std::get_if<Unreachable>(&connected)) {
    const route::RouteError err{
        Errc::unavailable,
        "the mailbox server " + s.info.upstream + " is not reachable: " + unreachable->why, 0};
    co_await route_failed(s, client, upstream_login, err, before);
    co_return;
  }
  auto& mailbox = std::get<MailboxConnection>(connected);
  if (auto* plain = std::get_if<std::unique_ptr<tcp::socket>>(&mailbox.stream)) {
    co_await login_at(s, client, **plain, std::move(upstream_login), std::move(mailbox.route), before);
  } else {
    count_ktls(*std::get<std::unique_ptr<TlsStream>>(mailbox.stream), s.counters);
    co_await login_at(s, client, *std::get<std::unique_ptr<TlsStream>>(mailbox.stream),
                      std::move(upstream_login), std::move(mailbox.route), before);
  }
}

// What a response that is not data gets: "*" the abort, bad base64 the
// CLIENTBUG (an invalid command). nullopt for data.
template <class P, class Stream>
awaitable<std::optional<Next>> not_data(State<P>& s, Stream& client, std::string_view tag, const GssResponse& r) {
  if (r.cancelled) {
    const std::string text = P::tagged(tag, say<P>(k_sasl_cancelled));
    co_return co_await reply(s, client, text);
  }
  if (!r.error.empty()) {
    const std::string text = P::tagged(tag, std::string(say<P>(k_sasl_invalid)) + r.error);
    co_return co_await refuse_command(s, client, text);
  }
  co_return std::nullopt;
}

// The accept thread was busy or slow: the client may try again later; not
// its failure.
template <class P, class Stream>
awaitable<Next> gss_unavailable(State<P>& s, Stream& client, std::string_view tag, bool end) {
  if (end) {
    ZMPROXY_LOG(warn, P::k_protocol.name, "{}: GSSAPI login abandoned: the Kerberos accept did not answer "
                "within the login's time", s.info.client_ip);
    s.info.outcome = "unavailable";
  }
  const std::string text = P::tagged(tag, say<P>(k_gssapi_unavailable));
  if (end) {
    co_await send(s, client, text);
    co_return Next::done;
  }
  co_return co_await reply(s, client, text);
}

// AUTHENTICATE GSSAPI / AUTH GSSAPI. `initial_response`: what followed the
// mechanism name, if anything.
template <class P, class Stream>
awaitable<Next> authenticate_gssapi(State<P>& s, Stream& client, std::string_view tag,
                                    std::optional<std::string> initial_response) {
  GssapiGate* gate = s.shared->gssapi.get();
  if (gate == nullptr || !gate->offered(P::k_gss_service)) {
    const std::string text = P::tagged(tag, say<P>(k_no_mechanism));
    co_return co_await reply(s, client, text);
  }
  if (cleartext_refused(s)) {
    const std::string text = P::tagged(tag, say<P>(k_cleartext_auth));
    co_return co_await reply(s, client, text);
  }
  auto keys = gate->credentials(P::k_gss_service, s.info.local_ip);
  if (!keys) {
    ZMPROXY_LOG(warn, P::k_protocol.name, "{}: GSSAPI asked on {}, which has no Kerberos key",
                s.info.client_ip, s.info.local_ip);
    const std::string text = P::tagged(tag, say<P>(k_no_mechanism));
    co_return co_await reply(s, client, text);
  }
  auto context = std::make_shared<krb5::GssLogin>(std::move(keys));
  GssResponse response;
  if (initial_response) {
    SaslResponse r = decode_initial_response(*initial_response, k_max_gssapi_response);
    if (r.kind == SaslResponseKind::error) {
      response.error = std::string(sasl_error_text(r.error));
    }
    response.data = std::move(r.data);
  } else {
    auto first = co_await gss_challenge(s, client, k_no_token);  // named: GCC 12 (session_driver.hpp)
    if (!first) {
      co_return Next::done;
    }
    response = std::move(*first);
  }
  for (int steps = 0;; ++steps) {
    if (auto done = co_await not_data(s, client, tag, response)) {
      co_return *done;
    }
    if (steps == krb5::k_max_gss_steps) {
      const std::string_view why = "too many steps";
      co_return co_await gss_refused(s, client, tag, why);
    }
    const auto deadline = Clock::now() + s.wait();
    awaitable<GssapiGate::StepResult> next = gate->step(context, std::move(response.data), deadline);
    GssapiGate::StepResult result = co_await std::move(next);
    if (result.outcome != GssapiGate::StepOutcome::done) {
      if (result.outcome == GssapiGate::StepOutcome::stopped) {
        co_return Next::done;
      }
      const bool end = result.outcome == GssapiGate::StepOutcome::timed_out;
      co_return co_await gss_unavailable(s, client, tag, end);
    }
    krb5::GssStep& step = result.step;
    if (step.state == krb5::GssStepState::failed) {
      co_return co_await gss_refused(s, client, tag, step.reason);
    }
    if (step.state == krb5::GssStepState::complete) {
      if (!step.token.empty()) {
        // The context's last token; the client answers with nothing.
        const std::string_view last_token = step.token;
        auto last = co_await gss_challenge(s, client, last_token);
        if (!last) {
          co_return Next::done;
        }
        if (auto done = co_await not_data(s, client, tag, *last)) {
          co_return *done;
        }
        if (!last->data.empty()) {
          const std::string_view why = "the client answered the last token with data";
          co_return co_await gss_refused(s, client, tag, why);
        }
      }
      break;
    }
    const std::string_view challenge = step.token;
    auto more = co_await gss_challenge(s, client, challenge);
    if (!more) {
      co_return Next::done;
    }
    response = std::move(*more);
  }
  // RFC 4752 section 3.1: the security layer (none) and the authorization identity.
  auto offer = context->wrapped_layer_offer();
  if (!offer) {
    co_return co_await gss_refused(s, client, tag, offer.error().message);
  }
  const std::string_view offer_token = *offer;
  auto answer = co_await gss_challenge(s, client, offer_token);
  if (!answer) {
    co_return Next::done;
  }
  if (auto done = co_await not_data(s, client, tag, *answer)) {
    co_return *done;
  }
  auto authzid = context->accept_layer_reply(answer->data);
  if (!authzid) {
    co_return co_await gss_refused(s, client, tag, authzid.error().message);
  }
  std::string principal = gate->qualify(context->client_principal());
  std::string authz = std::move(*authzid);
  co_await kerberos_login(s, client, tag, std::move(principal), std::move(authz));
  co_return Next::done;
}

}  // namespace zmproxy::proxy::mail

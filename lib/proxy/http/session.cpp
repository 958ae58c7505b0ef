#include "lib/proxy/http/session.hpp"

#include "lib/core/strings.hpp"
#include "lib/log/logger.hpp"
#include "lib/net/deadline.hpp"
#include "lib/net/stream_io.hpp"
#include "lib/proxy/generation.hpp"
#include "lib/proxy/http/access_line.hpp"
#include "lib/proxy/http/client_connection.hpp"
#include "lib/proxy/http/exchange.hpp"
#include "lib/proxy/http/forwarding.hpp"
#include "lib/proxy/http/h2_session.hpp"
#include "lib/proxy/http/log_redact.hpp"
#include "lib/proxy/http/login_throttling.hpp"
#include "lib/proxy/http/login_user.hpp"
#include "lib/proxy/http/mail_mode.hpp"
#include "lib/proxy/http/message_io.hpp"
#include "lib/proxy/http/request_target.hpp"
#include "lib/proxy/http/route_extract.hpp"
#include "lib/proxy/http/server_names.hpp"
#include "lib/proxy/http/target.hpp"
#include "lib/proxy/http/upstream_choice.hpp"
#include "lib/proxy/http/upstream_pool.hpp"
#include "lib/proxy/ktls_count.hpp"
#include "lib/proxy/session_info.hpp"
#include "lib/proxy/throttle_gate.hpp"
#include "lib/proxy/upstream_health.hpp"
#include "lib/route/lookup_handler.hpp"
#include "lib/route/route_resolver_asio.hpp"
#include "lib/tls/alpn.hpp"
#include "lib/tls/tls_context.hpp"

#include <fmt/format.h>

#include <variant>

namespace zmproxy::proxy::http {

namespace {

using asio::awaitable;
using net::tcp;
using Clock = std::chrono::steady_clock;

// What a plain client socket reads at once when its buffer has less room
// (Beast's least read; the buffer keeps what it grew to).
constexpr std::size_t k_client_read_room = 512;

// The request header into `rp`, and the request line, Referer and User-Agent
// for the access log. false when there is no request to serve (the client
// left, stalled, or sent one too large or malformed: answered here).
template <class Client>
awaitable<bool> read_request(ClientConnection& c, Client& client, beast::flat_buffer& cbuf, RequestParser& rp) {
  beast::error_code ec;
  std::size_t n = 0;
  if constexpr (k_plain_socket<Client>) {
    // recv at once (wait only after EAGAIN); a pipelined request is parsed
    // from what the last read left in `cbuf`.
    std::optional<Timed> deadline;
    ec = co_await read_header_now(client, cbuf, rp, deadline, c.cfg.http.client_timeout, k_client_read_room, false,
                                  n);
  } else {
    Timed deadline(client, c.cfg.http.client_timeout);
    auto [read_ec, read_n] = co_await bhttp::async_read_header(client, cbuf, rp, net::use_nothrow);
    ec = deadline.result(read_ec);
    n = read_n;
  }
  if (ec) {
    if (ec == bhttp::error::body_limit) {
      co_await send_simple(c, client, 11, bhttp::status::payload_too_large,
                           "The upload is larger than zimbraFileUploadMaxSize allows.", false, {});
    } else if (ec == bhttp::error::header_limit) {
      co_await send_simple(c, client, 11, bhttp::status::request_header_fields_too_large,
                           "The request header is too large.", false, {});
    } else if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
               ec != asio::error::eof && ec != asio::error::connection_reset &&
               ec != asio::ssl::error::stream_truncated) {
      co_await send_simple(c, client, 11, bhttp::status::bad_request, "The request is malformed.", false, {});
    }
    co_return false;
  }
  c.info.bytes_in += n;
  ++c.requests;
  auto& req = rp.get();
  // assign/append: the strings keep their capacity from request to request.
  c.request_line.assign(req.method_string().data(), req.method_string().size());
  c.request_line.append(" ").append(req.target().data(), req.target().size());
  c.request_line.append(c.h2 ? " HTTP/2.0" : req.version() == 10 ? " HTTP/1.0" : " HTTP/1.1");
  const auto referer = req[bhttp::field::referer];
  c.referer.assign(referer.data(), referer.size());
  const auto agent = req[bhttp::field::user_agent];
  c.user_agent.assign(agent.data(), agent.size());
  co_return true;
}

// The checks before routing: the target's form, smuggling, the upload size,
// CR/LF escapes, strict server names, the mail mode's redirects. nullopt when
// the request passed; else it was answered here, and whether the client
// connection stays open. An absolute-form target ("GET http://host/
// HTTP/1.1") is made origin-form, its authority the Host (RFC 9112 §3.2.2),
// so the strict-server-name check judges it and the mailbox gets
// origin-form; other forms are refused.
template <class Client>
awaitable<std::optional<bool>> screen_request(ClientConnection& c, Client& client, RequestParser& rp) {
  const auto& h = c.cfg.http;
  auto& req = rp.get();
  const unsigned version = req.version();
  const RequestTarget form = classify_target(std::string_view(req.target().data(), req.target().size()),
                                             req.method() == bhttp::verb::options);
  if (form.form == RequestTarget::Form::invalid) {
    co_return co_await send_simple(c, client, version, bhttp::status::bad_request,
                                   "The request target is malformed.", false, {});
  }
  if (form.form == RequestTarget::Form::absolute) {
    const std::string authority(form.authority);
    std::string origin = form.origin.empty() || form.origin.front() == '?' ? "/" : "";
    origin.append(form.origin);
    req.set(bhttp::field::host, authority);
    req.target(origin);
  }
  const std::string_view target(req.target().data(), req.target().size());
  const auto host_field = req[bhttp::field::host];
  const std::string_view host(host_field.data(), host_field.size());
  // Request smuggling: Transfer-Encoding together with Content-Length.
  if (req.count(bhttp::field::transfer_encoding) != 0 && req.count(bhttp::field::content_length) != 0) {
    co_await send_simple(c, client, version, bhttp::status::bad_request,
                         "Content-Length and Transfer-Encoding together are not accepted.", false, {});
    co_return false;
  }
  if (h.upload_max > 0 && req.has_content_length() &&
      std::stoull(std::string(req[bhttp::field::content_length])) > static_cast<std::uint64_t>(h.upload_max)) {
    co_return co_await send_simple(c, client, version, bhttp::status::payload_too_large,
                                   "The upload is larger than zimbraFileUploadMaxSize allows.", false, {});
  }
  if (has_raw_crlf_escape(target)) {
    co_return co_await send_simple(c, client, version, bhttp::status::forbidden,
                                   "Line breaks are not allowed in the address.", rp.is_done() && req.keep_alive(), {});
  }
  // Strict names need names: with none configured every Host passes.
  if (!host_allowed(host, h.server_names, h.strict_server_name && !h.server_names.empty())) {
    co_return co_await send_simple(c, client, version, bhttp::status::bad_request,
                                   "Unknown server name.", rp.is_done() && req.keep_alive(), {});
  }
  const auto mode = c.admin ? MailMode::https : parse_mail_mode(h.mode).value_or(MailMode::both);
  const auto cookie_field = req[bhttp::field::cookie];
  const auto decision = decide(mode, c.tls, host, target,
                               has_auth_token_cookie(std::string_view(cookie_field.data(), cookie_field.size())),
                               c.shared->https_port != 0 ? c.shared->https_port : h.ssl_port,
                               c.shared->http_port != 0 ? c.shared->http_port : h.port);
  if (decision.bad_host) {
    co_return co_await send_simple(c, client, version, bhttp::status::bad_request,
                                   "The Host header is missing or malformed.", false, {});
  }
  if (decision.redirect) {
    std::vector<std::pair<std::string, std::string>> location;
    location.emplace_back("Location", decision.location);
    co_return co_await send_simple(c, client, version, bhttp::status::found, "Moved.",
                                   rp.is_done() && req.keep_alive(), location);
  }
  co_return std::nullopt;
}

// Who a login comes from, for login throttling: the peer, or behind a
// trusted balancer the client its X-Forwarded-For names (else one guesser
// would lock an account for everybody behind the balancer).
template <class Request>
void login_address(ClientConnection& c, const Request& req) {
  c.login.address = c.info.client_ip;
  if (!c.peer_trusted) {
    return;
  }
  std::string chain;
  for (const auto& f : req) {
    if (core::iequals(f.name_string(), "X-Forwarded-For")) {
      chain.append(chain.empty() ? "" : ", ").append(f.value().data(), f.value().size());
    }
  }
  if (const std::string_view client = forwarded_client(chain, c.cfg.http.trusted_proxies);
      !client.empty()) {
    c.login.address.assign(client.data(), client.size());
  }
}

// Decided once for every attempt (an attempt must not re-derive them from
// the header whose hop-by-hop fields are gone): the upgrade (WebSocket
// only: h2c and the like are dropped with the hop-by-hop fields and the
// request served as plain HTTP), Expect, the read timeout, the forwarding
// fields (into c.forwarded). Then the hop-by-hop fields and Expect (answered
// here: the body is streamed anyway) leave the request.
template <class Request>
Prepared prepare(ClientConnection& c, Request& req, std::string_view target, std::string_view host) {
  Prepared prep;
  prep.upgrade = req.method() == bhttp::verb::get &&
                 bhttp::token_list{req[bhttp::field::connection]}.exists("upgrade") &&
                 bhttp::token_list{req[bhttp::field::upgrade]}.exists("websocket");
  prep.expect_continue = core::iequals(req[bhttp::field::expect], "100-continue");
  prep.read_timeout = upstream_read_timeout(c.cfg.http, target);
  // A reload or a stop retired this generation: the client's next request
  // goes to a new connection, under the new one.
  prep.client_keep_alive = req.keep_alive() && !c.shared->retired.load(std::memory_order_relaxed);
  ForwardingInput fwd;
  fwd.peer_ip = c.info.client_ip;
  fwd.scheme = c.tls ? "https" : "http";
  fwd.host = host;
  fwd.trusted_peer = c.peer_trusted;
  c.client_xff.clear();
  if (c.peer_trusted) {
    for (const auto& f : req) {
      const auto name = f.name_string();
      if (core::iequals(name, "X-Forwarded-For")) {
        c.client_xff.append(c.client_xff.empty() ? "" : ", ").append(f.value().data(), f.value().size());
      } else if (core::iequals(name, "X-Real-IP")) {
        fwd.client_has_real_ip = true;
      } else if (core::iequals(name, "X-Forwarded-Proto")) {
        fwd.client_has_proto = true;
      } else if (core::iequals(name, "X-Forwarded-Host")) {
        fwd.client_has_host = true;
      }
    }
  }
  fwd.client_xff = c.client_xff;
  c.forwarded.clear();
  append_forwarding_fields(c.forwarded, fwd);
  c.forwarded.append(prep.upgrade ? "Connection: Upgrade\r\nUpgrade: websocket\r\n" : "Connection: keep-alive\r\n");
  erase_hop_by_hop(req);
  req.erase(bhttp::field::expect);
  // Only the proxy vouches for a client certificate (certauth).
  for (auto it = req.begin(); it != req.end();) {
    it = is_client_identity_field(it->name_string()) ? req.erase(it) : std::next(it);
  }
  return prep;
}

// The request to the first target that takes it, on a kept connection if
// there is one (once more on a fresh one if the kept one turns out closed).
// A target whose upstream is down (upstream_health.hpp) is skipped: IP hash
// moves to the next one, as it does after a read timeout when the request
// may be repeated (may_repeat, exchange.hpp); a looked-up route has no
// other, so the request gets a 502 at once (nginx's "no live upstreams"). A
// looked-up route that failed is forgotten, so the next request asks again.
// Whether the client connection stays open.
template <class Client>
awaitable<bool> forward(ClientConnection& c, Client& client, beast::flat_buffer& cbuf, RequestParser& rp,
                        const Prepared& prep, const std::vector<Target>& targets, const RouteKey& key) {
  UpstreamHealth* health = c.shared->web_health.get();
  c.tried.clear();
  bool timed_out = false;  // the last server tried did not answer in time
  for (const Target& t : targets) {
    const std::string address = t.address();
    c.tried.append(c.tried.empty() ? "" : ", ").append(address);
    const std::size_t tracked = health != nullptr ? health->find(address) : UpstreamHealth::k_untracked;
    if (tracked != UpstreamHealth::k_untracked && !health->try_use(tracked, Clock::now())) {
      if (!t.from_ip_hash) {
        break;
      }
      continue;
    }
    // A kept TLS connection holds its SSL_CTX, so no new one can take its
    // address while the old pool lives.
    const std::string pool_key = upstream_pool_key(
        c.cfg.upstream.ssl ? static_cast<const void*>(c.shared->client_tls->native_handle()) : nullptr, t);
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<UpstreamConn> conn =
          attempt == 0 ? UpstreamPool::of_this_thread().take(pool_key, net::coarse_now(), rp.is_done()) : nullptr;
      const bool reused = conn != nullptr;
      if (!conn) {
        conn = co_await open_upstream(c, t);
        if (!conn) {
          report_attempt(health, tracked, false);
          timed_out = false;
          break;  // this server is down: next target, if any
        }
      }
      c.info.upstream = address;
      Attempt a;
      std::optional<bool> result;
      if (auto* p = std::get_if<std::unique_ptr<PlainStream>>(&conn->stream)) {
        result = co_await exchange(c, client, cbuf, rp, prep, **p, conn->buffer, t, a);
      } else {
        result = co_await exchange(c, client, cbuf, rp, prep, *std::get<std::unique_ptr<TlsStream>>(conn->stream),
                                   conn->buffer, t, a);
      }
      // A kept connection the server had closed says nothing of the server.
      if (a.answered || a.upstream_timeout || (a.upstream_error && !reused)) {
        report_attempt(health, tracked, a.answered);
      }
      timed_out = a.upstream_timeout;
      if (a.answer_owed != 0) {
        c.info.outcome = a.answer_owed == 504 ? "gateway-timeout" : "bad-gateway";
        co_return co_await send_upstream_error(c, client, rp.get().version(),
                                               static_cast<bhttp::status>(a.answer_owed));
      }
      if (result) {
        if (a.upstream_reusable) {
          UpstreamPool::of_this_thread().give(pool_key, std::move(conn), net::coarse_now());
        }
        c.info.outcome = "ok";
        co_return *result;
      }
      if (a.response_started || !reused) {
        break;
      }
      // A pooled connection the server had closed: once more, fresh.
    }
    if (!t.from_ip_hash) {
      co_await route::invalidate(c.shared->resolver, key.value, c.info.local_ip);
      break;
    }
  }
  c.info.outcome = timed_out ? "gateway-timeout" : "bad-gateway";
  co_return co_await send_upstream_error(
      c, client, rp.get().version(),
      timed_out ? bhttp::status::gateway_timeout : bhttp::status::bad_gateway);
}

// A request on the certauth listener (client_cert.hpp certauth_step): the
// certauth lookup of the verified subject, then the request forwarded to the
// account's mailbox with the identity fields, else 403, the login page, or
// 502 when no lookup handler answers. Whether the client connection stays open.
template <class Client>
awaitable<bool> serve_certauth(ClientConnection& c, Client& client, beast::flat_buffer& cbuf, RequestParser& rp) {
  auto& req = rp.get();
  const unsigned version = req.version();
  const std::string_view target(req.target().data(), req.target().size());
  const auto host_field = req[bhttp::field::host];
  const std::string_view host(host_field.data(), host_field.size());
  const bool keep = rp.is_done() && req.keep_alive();
  const CertMode mode = c.cert.mode;  // the virtual host's, else http.client_cert_mode
  const int https_port = c.shared->https_port != 0 ? c.shared->https_port : c.cfg.http.ssl_port;
  std::vector<std::pair<std::string, std::string>> location;
  location.emplace_back("Location", login_page_url(host, c.cfg.server.name, https_port));
  const CertauthStep step = certauth_step(mode, c.cert.state, target.substr(0, target.find('?')));
  if (c.cert.state == ClientCertificate::State::failed) {
    c.info.detail = "certauth=bad-certificate";
    ZMPROXY_LOG(info, "http", "{}: client certificate refused: {}", c.info.client_ip, c.cert.failure);
  }
  if (step == CertauthStep::not_served) {
    co_return co_await send_simple(c, client, version, bhttp::status::forbidden,
                                   "Only /certauth and /certauth/admin are served on this port.", keep, {});
  }
  if (step == CertauthStep::login_page) {
    co_return co_await send_simple(c, client, version, bhttp::status::found, "Moved.", keep, location);
  }
  if (step == CertauthStep::forbidden) {
    co_return co_await send_simple(c, client, version, bhttp::status::forbidden,
                                   "A valid client certificate is required.", keep, {});
  }
  route::RouteQuery query;
  query.protocol = c.cfg.upstream.ssl ? "httpssl" : "http";
  query.client_ip = c.info.client_ip;
  query.proxy_ip = c.info.local_ip;
  query.proxy_host.assign(host.data(), host.size());
  query.admin = step == CertauthStep::lookup_admin;
  query.certauth_subject = c.cert.subject;
  auto r = co_await route::resolve(c.shared->resolver, std::move(query));
  if (auto* err = std::get_if<route::RouteError>(&r)) {
    ZMPROXY_LOG(warn, "http", "{}: certauth lookup for {} failed: {}", c.info.client_ip, c.cert.subject,
                err->message);
    c.info.detail = "certauth=refused";
    if (err->code == Errc::unavailable) {
      co_return co_await send_simple(c, client, version, bhttp::status::bad_gateway,
                                     "The lookup handler is not reachable; try again later.", false, {});
    }
    if (mode == CertMode::optional) {
      co_return co_await send_simple(c, client, version, bhttp::status::found, "Moved.", keep, location);
    }
    co_return co_await send_simple(c, client, version, bhttp::status::forbidden,
                                   "This certificate names no account.", keep, {});
  }
  const route::Route& found = std::get<route::Route>(r);
  const RouteKey key{RouteKey::Kind::user, found.user, query.admin};
  const std::vector<Target> targets{routed_target(found, key)};
  c.info.detail = "certauth=" + found.user;
  const Prepared prep = prepare(c, req, target, host);
  append_certauth_fields(c.forwarded, c.cert.subject, found.user, found.token);
  co_return co_await forward(c, client, cbuf, rp, prep, targets, key);
}

// One request: read, screened, routed, forwarded. Whether the client
// connection stays open.
template <class Client>
awaitable<bool> serve_request(ClientConnection& c, Client& client, beast::flat_buffer& cbuf) {
  const auto& h = c.cfg.http;
  RequestParser rp(std::piecewise_construct, std::make_tuple(), std::make_tuple(FieldsAllocator(c.arena)));
  rp.header_limit(static_cast<std::uint32_t>(h.max_header_size));
  rp.body_limit(h.upload_max > 0 ? boost::optional<std::uint64_t>(static_cast<std::uint64_t>(h.upload_max))
                                  : boost::none);
  if (!co_await read_request(c, client, cbuf, rp)) {
    co_return false;
  }
  if (const std::optional<bool> answered = co_await screen_request(c, client, rp)) {
    co_return *answered;
  }
  if (c.certauth) {
    co_return co_await serve_certauth(c, client, cbuf, rp);
  }
  auto& req = rp.get();
  const unsigned version = req.version();
  if (c.tls && !c.admin) {
    if (const auto refusal = https_certificate_refusal(c.cert.mode, c.cert.state)) {
      c.info.detail = "client-certificate";
      co_return co_await send_simple(c, client, version, bhttp::status::bad_request, *refusal, false, {});
    }
  }
  // Views into the parsed request, which outlives them; the hop-by-hop
  // fields are taken out in prepare(), never these.
  const std::string_view target(req.target().data(), req.target().size());
  const auto host_field = req[bhttp::field::host];
  const std::string_view host(host_field.data(), host_field.size());
  const auto cookie = req[bhttp::field::cookie];
  const auto authorization = req[bhttp::field::authorization];
  const RequestView view{std::string_view(req.method_string().data(), req.method_string().size()), target, host,
                         std::string_view(cookie.data(), cookie.size()),
                         std::string_view(authorization.data(), authorization.size()), c.user_agent};
  if (ThrottleGate* gate = c.shared->throttle.get()) {
    if (std::optional<std::string> user = login_user(view)) {
      c.login.user = std::move(*user);
      c.login.pending = true;
      c.login.proves = success_proves_login(target);
      login_address(c, req);
      if (const std::optional<bool> answered = co_await check_login(c, client, rp, *gate)) {
        co_return *answered;
      }
    }
  }
  const RouteKey key = c.admin ? extract_admin_route(view) : extract_route(view);
  const std::optional<std::vector<Target>> targets = co_await choose_targets(c, key, host);
  if (!targets) {
    co_return co_await send_simple(c, client, version, bhttp::status::forbidden,
                                   "This address may not use this domain.", false, {});
  }
  if (targets->empty()) {
    c.tried.clear();
    co_return co_await send_upstream_error(c, client, version, bhttp::status::bad_gateway);
  }
  const Prepared prep = prepare(c, req, target, host);
  co_return co_await forward(c, client, cbuf, rp, prep, *targets, key);
}

template <class Client>
awaitable<void> serve(ClientConnection& c, Client& client) {
  beast::flat_buffer cbuf;
  while (true) {
    c.request_line.clear();
    c.status = 0;
    c.arena.reset();  // the last request's parsers are gone
    c.info.upstream.clear();
    c.info.detail.clear();
    c.login.pending = false;
    const auto started = Clock::now();
    const std::uint64_t out_before = c.info.bytes_out;
    const bool more = co_await serve_request(c, client, cbuf);
    if (cbuf.size() == 0 && cbuf.capacity() > 8 * 1024) {
      cbuf.shrink_to_fit();  // an upload's read buffer is not kept by an idle connection
    }
    if (!c.request_line.empty()) {
      log_request(c, c.info.bytes_out - out_before, started);
    }
    if (!more) {
      break;
    }
  }
}

// One stream of an HTTP/2 connection (h2_session.hpp): one request, and its
// access-log line.
awaitable<void> serve_stream(ClientConnection& c, H2Stream& stream) {
  beast::flat_buffer cbuf;
  const auto started = Clock::now();
  co_await serve_request(c, stream, cbuf);
  if (!c.request_line.empty()) {
    log_request(c, c.info.bytes_out, started);
  }
}

// `certauth`: the certauth listener (TLS). `client`: the address a PROXY
// protocol header carried.
awaitable<void> run_web_session(std::shared_ptr<const proxy::Generation> shared, tcp::socket socket, bool tls,
                                ConnectionSlot slot, bool admin, bool certauth,
                                std::optional<tcp::endpoint> client, std::optional<tcp::endpoint> local) {
  // Held for the session's life: the connection counters go down at its end.
  const ConnectionSlot held = std::move(slot);
  const proxy::Protocol protocol = certauth ? proxy::Protocol::certauth
                                   : admin  ? proxy::Protocol::admin
                                   : tls    ? proxy::Protocol::https
                                            : proxy::Protocol::http;
  ClientConnection c{shared,
                     *shared->config,
                     proxy::describe_peer(socket, proxy::protocol_name(protocol), client, local),
                     tls,
                     admin,
                     0,
                     {},
                     {},
                     {},
                     0,
                     {},
                     {},
                     {},
                     {},
                     false,
                     shared->counters->of(protocol),
                     {},
                     {},
                     certauth,
                     {},
                     false};
  c.peer_trusted = !c.cfg.http.trusted_proxies.empty() &&
                   route::ip_allowed(c.info.client_ip, c.cfg.http.trusted_proxies);
  // TCP_NODELAY: from the listener (lib/server/listeners.cpp).
  try {
    if (tls) {
      // The HTTPS and certauth listeners ask for client certificates when
      // http.client_cert_mode is on or optional.
      const auto& context = (certauth || !admin) && shared->client_cert_tls ? shared->client_cert_tls
                            : certauth                                    ? nullptr
                                                                          : shared->server_tls;
      if (!context) {
        co_return;
      }
      TlsStream stream(std::move(socket), *context);
      // HTTPS and admin: "h2" by ALPN where http.http2; certauth: HTTP/1.1.
      tls::expect_alpn(stream.native_handle(),
                       !certauth && c.cfg.http.http2 ? tls::AlpnRole::web_h2 : tls::AlpnRole::web);
      bool handshake_ok = false;
      {
        Timed deadline(stream, c.cfg.http.client_timeout);
        auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, net::use_nothrow);
        handshake_ok = !ec && !deadline.expired();
      }
      if (!handshake_ok) {
        c.info.outcome = "tls-failed";
      } else {
        count_ktls(stream, c.counters);
        if (shared->client_cert_tls && context == shared->client_cert_tls) {
          c.cert = inspect_client_certificate(stream.native_handle());
        }
        if (tls::negotiated_h2(stream.native_handle())) {
          co_await serve_h2(c, stream, serve_stream);
        } else {
          co_await serve(c, stream);
        }
        Timed deadline(stream, std::chrono::seconds(5));
        co_await stream.async_shutdown(net::use_nothrow);
      }
    } else {
      // Closed by the socket's destructor: a shutdown(SHUT_WR) first sent
      // the same FIN (and, with unread bytes, close resets either way).
      co_await serve(c, socket);
    }
  } catch (const std::exception& e) {
    c.info.outcome = "error";
    ZMPROXY_LOG(error, "http", "{}: session failed: {}", c.info.client_ip, e.what());
  }
}

}  // namespace

awaitable<void> run_session(std::shared_ptr<const proxy::Generation> shared, tcp::socket socket, bool tls,
                            ConnectionSlot slot, bool admin, std::optional<tcp::endpoint> client,
                            std::optional<tcp::endpoint> local) {
  return run_web_session(std::move(shared), std::move(socket), tls, std::move(slot), admin, false, client, local);
}

awaitable<void> run_certauth_session(std::shared_ptr<const proxy::Generation> shared, tcp::socket socket,
                                     ConnectionSlot slot, std::optional<tcp::endpoint> client,
                                     std::optional<tcp::endpoint> local) {
  return run_web_session(std::move(shared), std::move(socket), true, std::move(slot), false, true, client, local);
}

}  // namespace zmproxy::proxy::http

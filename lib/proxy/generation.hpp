#pragma once
// What every session (IMAP, POP3, web) accepted under one configuration
// generation shares: the configuration, TLS contexts, the route resolver, the
// access log and the counters. Built by server/generation.cpp; immutable once
// published (but for `retired`); a session keeps the one it was accepted with.

#include "lib/config/proxy_config.hpp"
#include "lib/log/access_log.hpp"
#include "lib/proxy/counters.hpp"
#include "lib/proxy/gssapi_gate.hpp"
#include "lib/proxy/throttle_gate.hpp"
#include "lib/proxy/upstream_health.hpp"
#include "lib/route/route_resolver.hpp"
#include "lib/tls/tls_context.hpp"

#include <atomic>
#include <memory>

namespace zmproxy::net {
class SockmapRelay;
}  // namespace zmproxy::net

namespace zmproxy::proxy {

// Everything sessions of one configuration generation share. Immutable.
struct Generation {
  std::shared_ptr<const config::ProxyConfig> config;
  std::shared_ptr<tls::Context> server_tls;  // null: no certificate, no TLS offered
  std::shared_ptr<tls::Context> client_tls;
  std::shared_ptr<route::RouteResolver> resolver;
  std::shared_ptr<log::AccessLog> access_log;
  std::shared_ptr<Counters> counters;  // the server's, the same in every generation
  std::shared_ptr<ThrottleGate> throttle;  // null: nothing is throttled (no memcached, no limit)
  std::shared_ptr<GssapiGate> gssapi;      // null: no mail protocol offers GSSAPI
  int http_port = 0;   // the web listeners' bound ports (for redirects)
  int https_port = 0;
  // The web upstreams' passive health (max_fails / fail_timeout); never
  // null. Carried over by reloads (upstream_health.hpp).
  std::shared_ptr<UpstreamHealth> web_health;
  // The HTTPS and certauth listeners' TLS when client certificates are on
  // or optional (http.client_cert_mode); null: they use server_tls.
  std::shared_ptr<tls::Context> client_cert_tls;
  // Set once a reload replaced this generation, or zmproxyd is stopping:
  // web connections then wind down so that clients come back to the new
  // one (HTTP/1.1 answers with Connection: close, HTTP/2 sends GOAWAY and
  // finishes its open streams). Mail sessions are not affected.
  mutable std::atomic<bool> retired{false};
  // The kernel relay (issue 18): the process's sockhash when
  // server.kernel_relay is on and it loaded and passed its self-test at
  // start; null: every session relays in user space. Owned by the server.
  net::SockmapRelay* kernel_relay = nullptr;
};

}  // namespace zmproxy::proxy

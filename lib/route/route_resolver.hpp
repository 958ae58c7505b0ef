#pragma once
// RouteResolver: where does this user's mailbox live? In-process cache ->
// memcached (consistent hashing over the configured servers) -> the Route
// Lookup Handlers (round robin, failover, a failed handler skipped for a
// while, keep-alive connections). What zmproxyd calls on every login.
//
// Threading: resolve() is a coroutine that runs on the caller's io_context
// (a proxy worker). memcached reads are made there too, non-blocking
// (MemcachedReader); libmemcached's blocking calls (writes, deletes, and the
// reads the reader hands back) are offloaded to the resolver's own small
// thread pool, so a worker never blocks. Handler connections are
// kept per worker thread. invalidate() may be called from any thread.
// The header has no Asio: callers include lib/route/route_resolver_asio.hpp
// for the awaitable entry point. The handlers are asked by LookupClient
// (lookup_client.hpp); what memcached may hold is cached_route.hpp.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/result.hpp"
#include "lib/route/memcached_cache.hpp"

namespace zmproxy::route {

struct ResolverSettings {
  // Lookup handlers: "host:port" or "http://host:port/service/extension/nginx-lookup".
  std::vector<std::string> handlers;
  std::chrono::milliseconds handler_timeout{15000};  // zimbraReverseProxyRouteLookupTimeout
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds retry_interval{60000};   // zimbraReverseProxyRouteLookupTimeoutCache
  std::string secret;                                // sent as X-Zmproxy-Lookup-Secret
  bool caching = true;                               // zimbraReverseProxyZmlookupCachingEnabled
  std::chrono::seconds cache_ttl{3600};              // zimbraReverseProxyCacheEntryTTL
  std::chrono::seconds local_ttl{60};                // in-process cache; 0 = off
  std::size_t local_capacity = 100000;               // [route] local_cache_size (LRU bound)
  MemcachedSettings memcached;
  std::size_t blocking_threads = 2;                  // for memcached calls
  // Routes read from memcached are believed only when they name one of these
  // ("host:port", [route] mailbox_servers) or carry the secret's HMAC.
  std::vector<std::string> mailbox_servers;
  // memcached writes waiting for the blocking pool; more are dropped (a fill
  // is only an optimisation: the next login asks again).
  std::size_t max_pending_fills = 1024;
  // memcached reads and deletes a login waits for on the blocking pool (a
  // memcached the worker's reader cannot use, a hung one); more are not
  // made: the lookup handlers answer instead, the delete is skipped.
  std::size_t max_pending_reads = 1024;
  // Sent with gssapi and certauth lookups as Auth-Admin-User / Auth-Admin-Pass (an admin
  // account the handler checks; Zimbra's zm_lookup_master_auth_username and
  // ldap_nginx_password). Never logged.
  std::string gssapi_admin_user;
  std::string gssapi_admin_password;
  // A login the mailbox refused drops the user's cached route at most once
  // per refusal_interval (refusal_drops.hpp), remembering at most
  // refusal_capacity users.
  std::chrono::seconds refusal_interval{60};
  std::size_t refusal_capacity = 10000;
};

struct RouteQuery {
  std::string user;      // the login as typed (suffixes like /tb stripped)
  std::string protocol;  // imap imapssl pop3 pop3ssl http httpssl
  std::string client_ip;
  std::string proxy_ip;
  std::string proxy_host;  // web: the Host header
  bool by_id = false;      // user is a zimbraId (web auth token)
  bool admin = false;
  int login_attempt = 1;
  // Non-empty: a GSSAPI login (Auth-Method gssapi) of this Kerberos principal
  // (Auth-ID); `user` is then the authorization identity asked for, or empty
  // for the principal's own account. Never cached (as Zimbra).
  std::string gssapi_principal;
  bool is_gssapi() const noexcept { return !gssapi_principal.empty(); }
  // Non-empty: a client-certificate login (Auth-Method certauth) of the
  // certificate with this verified subject DN (RFC 4514 form), sent as
  // Auth-User; `admin` for /certauth/admin. Never cached (as Zimbra).
  std::string certauth_subject;
  bool is_certauth() const noexcept { return !certauth_subject.empty(); }
};

struct Route {
  std::string host;  // address (or name) of the mailbox server
  int port = 0;
  std::string user;  // the account name to log in with upstream
  enum class Source { local, memcached, handler } source = Source::handler;
  // A gssapi or certauth lookup's Auth-Pass: the token vouching for `user`.
  // A credential: never logged, never cached.
  std::string token;
};

// A lookup that failed for the user's sake (unknown user, not allowed) is
// Errc::not_found / permission_denied with the handler's text and wait; one
// that failed for ours (no handler reachable) is Errc::unavailable.
struct RouteError {
  Errc code;
  std::string message;
  int wait_seconds = 0;
};

struct ResolverStats {
  std::uint64_t local_hits = 0;
  std::uint64_t memcached_hits = 0;
  std::uint64_t handler_lookups = 0;
  std::uint64_t handler_failures = 0;
  std::uint64_t memcached_errors = 0;
  std::uint64_t memcached_rejected = 0;  // routes that named no known server / bad HMAC
  std::uint64_t fills_dropped = 0;       // memcached writes dropped, the queue being full
  std::size_t fills_waiting = 0;         // memcached writes waiting for the pool now
  std::uint64_t reads_dropped = 0;  // memcached reads and deletes not made, the queue being full
  std::size_t reads_waiting = 0;    // memcached reads and deletes a login waits for now
  std::uint64_t local_evictions = 0;     // in-process entries evicted by the LRU bound
  std::size_t local_entries = 0;
  // Resolves that went to the resolver's blocking pool (a thread hop each):
  // memcached reads and writes through libmemcached, invalidations. An
  // in-process hit makes none.
  std::uint64_t pool_hops = 0;
  // memcached reads made on the worker itself (memcached_reader.hpp), and
  // those it handed back to libmemcached on the pool (a server down, a
  // reply not believed).
  std::uint64_t memcached_worker_reads = 0;
  std::uint64_t memcached_fallbacks = 0;
  // Routes dropped because the mailbox refused a login (forget_refused),
  // and refusals that dropped nothing (a fresh route, or within the interval).
  std::uint64_t refusal_drops = 0;
  std::uint64_t refusals_kept = 0;
};

class RouteResolver {
 public:
  static Result<std::shared_ptr<RouteResolver>> create(ResolverSettings settings);
  ~RouteResolver();
  RouteResolver(const RouteResolver&) = delete;
  RouteResolver& operator=(const RouteResolver&) = delete;

  // Forget a user's routes everywhere they are cached (in-process, memcached):
  // every protocol's route key and the alias keys of this proxy address.
  // Blocking (memcached): call it off the I/O threads, or through the
  // awaitable invalidate in route_resolver_asio.hpp.
  // A zimbraId's web, admin and zx route keys go too.
  void invalidate(const std::string& user, const std::string& proxy_ip);

  // FORGET (zmproxyd's control command, lib/route/forget_command.hpp): drop
  // these users' in-process routes, every protocol, found by the login as
  // typed, the account name, or the zimbraId a web route was found by; and
  // for one local_ttl keep nothing of theirs in process, so that the next
  // logins read memcached (which zmlookupd purges when the store changes)
  // rather than a route read before the purge. memcached is not touched;
  // nothing blocks but the in-process cache's lock. Returns the entries
  // dropped. The in-process cache is one for all workers.
  std::size_t forget(const std::vector<std::string>& users);
  std::size_t forget_all();

  ResolverStats stats() const;
  // Block until the memcached writes that resolves started in the
  // background have landed (tests; never on an I/O thread).
  void wait_background();
  const ResolverSettings& settings() const;

  struct Impl;
  Impl& impl() { return *m_impl; }

 private:
  explicit RouteResolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace zmproxy::route

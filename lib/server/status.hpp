#pragma once
// zmproxyd's STATUS reply (zmproxyctl status): one JSON object of what the
// server knows of itself and every declared counter (proxy/counters.hpp),
// per listener protocol. Pure; the server gathers the facts.

#include "lib/proxy/counters.hpp"

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

namespace zmproxy::server {

// A bounded queue: its bound, what waits in it now, what it dropped since
// start (the access log's in bytes, the others in calls).
struct QueueFacts {
  std::string name;
  std::uint64_t limit = 0;
  std::uint64_t waiting = 0;
  std::uint64_t dropped = 0;
};

struct StatusFacts {
  long pid = 0;
  std::time_t now = 0;
  std::time_t started = 0;
  std::string user;  // the service user, or the effective uid
  std::string config_file;
  std::string config_version;
  std::uint64_t generation = 0;
  std::uint64_t reloads = 0;
  std::string last_reload_result = "none";  // "ok", "error" or "none"
  std::string last_reload_message;
  std::time_t last_reload_at = 0;  // 0: never
  std::vector<std::pair<std::string, std::string>> listeners;  // protocol, "address:port"
  std::size_t heap_in_use = 0;
  std::size_t heap_free = 0;
  std::size_t mmapped = 0;
  bool throttle = false;                 // login throttling counts (a gate exists)
  std::uint64_t throttle_unchecked = 0;  // checks let through, too many waiting for memcached
  // GSSAPI (a GssapiGate exists): the keytab, the service principals in use,
  // and the steps refused because too many waited.
  bool gssapi = false;
  std::string gssapi_keytab;
  std::vector<std::string> gssapi_principals;
  std::uint64_t gssapi_busy = 0;
  // The web upstreams passive health leaves out now (address, whole
  // seconds until one request tries it again, rounded up), and how many
  // times one was left out since start (proxy/upstream_health.hpp).
  std::vector<std::pair<std::string, std::int64_t>> web_down;
  std::uint64_t web_marked_down = 0;
  // kTLS: asked for (tls.ktls), whether the kernel can (found at start) and
  // if not why; the connections it took are the counters ktls_send/recv.
  bool ktls = false;
  bool ktls_kernel = false;
  std::string ktls_why;
  // The kernel relay (issue 18): ready, off, unavailable or "not built";
  // why it is not ready; the sessions it relays now, and since start.
  std::string kernel_relay = "off";
  std::string kernel_relay_why;
  std::uint64_t kernel_relay_sessions = 0;
  std::uint64_t kernel_relay_relayed = 0;
  // access_log, memcached_writes, memcached_reads, throttle_checks: those
  // that exist in this configuration.
  std::vector<QueueFacts> queues;
};

std::string status_json(const StatusFacts& facts, const proxy::Counters& counters);

}  // namespace zmproxy::server

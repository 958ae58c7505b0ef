#pragma once
// One configuration generation of zmproxyd: what the listeners should be and
// the state its sessions share (TLS contexts, route resolver, access log),
// built from a config::ProxyConfig and validated before the server commits to it.
// Pieces whose settings did not change (the resolver with its caches and
// connections, the access log, the counters) are carried over from the
// previous generation.

#include "lib/config/proxy_config.hpp"
#include "lib/core/result.hpp"
#include "lib/proxy/counters.hpp"

#include <memory>
#include <string>
#include <vector>

namespace zmproxy::proxy {
struct Generation;
}

namespace zmproxy::server {

using proxy::Protocol;
using proxy::protocol_name;

struct ListenerSpec {
  Protocol protocol;
  std::string address;
  int port;               // as configured (0 = any free port)
  std::string attribute;  // the setting that names the port, for errors

  bool same_socket(const ListenerSpec& o) const {
    return protocol == o.protocol && address == o.address && port == o.port;
  }
};

// The listeners `config` asks for; TLS ones only when `have_tls`.
std::vector<ListenerSpec> listener_specs(const config::ProxyConfig& config, bool have_tls);

// Validate and build the shared state of a generation (all but its
// counters, which the server owns and sets). Errors name the
// setting to fix (a certificate that does not match its key, a TLS listener
// without a certificate, a bad route setting).
Result<std::shared_ptr<proxy::Generation>> build_generation(
    std::shared_ptr<const config::ProxyConfig> config,
    const std::shared_ptr<const proxy::Generation>& previous);

// Checks a configuration can pass before a running proxy sees it:
// the TLS certificate loads and matches its key (when a listener needs TLS);
// the upstream CA bundle loads (when upstream.ssl);
// no listener port is held by another program. `held`: ports the running
// zmproxyd holds itself (run/zmproxyd.addr), re-used on reload.
Result<void> check_tls(const config::ProxyConfig& config);
Result<void> check_ports_free(const config::ProxyConfig& config, const std::vector<int>& held);

// Whether `spec`'s port can be bound by us alone (not shared with another
// program through SO_REUSEPORT); errors name the setting and the fix.
Result<void> probe_port(const ListenerSpec& spec);

// The ports in a run/zmproxyd.addr file ("imap 127.0.0.1:143" lines).
std::vector<int> held_ports(const std::filesystem::path& addr_file);

// Log level and file from the configuration (when they changed).
void apply_logging(const config::ProxyConfig& config, const config::ProxyConfig* previous);

// Log, once, which dependencies do not answer (memcached, lookup handlers):
// zmproxyd serves degraded rather than refusing to start.
void report_degraded(const config::ProxyConfig& config);

}  // namespace zmproxy::server

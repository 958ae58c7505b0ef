#pragma once
// zmproxyconfig's logic (REFERENCE-zimbra §4): the attributes to write on one
// server (and, with -f, on the global config) to turn its IMAP/POP3 proxy
// (-m) and web proxy (-w) on (-e) or off (-d), for what the node runs: a
// mailbox and a proxy, a mailbox only, or a proxy only.
//
// The steps are separate so that each can be tested and shown on its own:
//   validate_options  the flag combinations and values (no store needed)
//   check_local       -H names this host unless -r
//   read_node         what the server entry says (zimbraServiceInstalled,
//                     zimbraServiceEnabled, current effective values)
//   plan_proxy_setup  pure: options + node -> the writes, one per entry
//   zmprov_command    a write as the `zmprov` line that would make it
//   apply_proxy_setup the writes through Provisioning (registry checks,
//                     audit log)
//   listen_warning    pure: whether the result leaves nothing listening on
//                     80 or 443 on a node that has a proxy
// Failures are one line naming the thing and the fix: Errc::invalid_argument
// for bad options or a node the options do not fit, Errc::not_found for an
// unknown server, other codes for the store.

#include "lib/core/result.hpp"
#include "lib/provisioning/provisioning.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::provisioning {

struct ProxySetupOptions {
  std::string host;                // -H: the server to change
  bool enable = false;             // -e
  bool disable = false;            // -d
  bool mail = false;               // -m: the IMAP/POP3 part
  bool web = false;                // -w: the HTTP part
  std::string imap_ports;          // -i STORE:PROXY:SSL-STORE:SSL-PROXY ("" = default)
  std::string pop_ports;           // -p, same order
  std::string web_ports;           // -a, same order
  std::string admin_ports;         // -n STORE:PROXY
  std::string mail_mode;           // -x: proxy mode on -e, store (and proxy) mode on -d
  bool admin_enable = false;       // -C
  bool admin_disable = false;      // -c
  bool ssl_upstream_off = false;   // -u
  bool ssl_upstream_on = false;    // -U
  bool secure = false;             // -s: cleartext logins off on -d
  bool lookup_target_off = false;  // -t: zimbraReverseProxyLookupTarget FALSE on -d (store only)
  bool override_enabled = false;   // -o: an installed mailbox counts as enabled
  bool remote = false;             // -r: -H may name another host
  bool full_reset = false;         // -f: the global proxy defaults
};

// The flag combinations and the values of -i/-p/-a/-n/-x.
Result<void> validate_options(const ProxySetupOptions& o);

// -H must be this host (localconfig zimbra_server_hostname) unless -r is given.
Result<void> check_local(const ProxySetupOptions& o, std::string_view local_host);

// What the planner needs to know about the server.
struct NodeState {
  std::string name;            // the server's name as stored
  bool has_store = false;      // zimbraServiceInstalled has mailbox
  bool has_proxy = false;      // zimbraServiceInstalled has proxy
  bool store_enabled = false;  // zimbraServiceEnabled has mailbox
  bool proxy_enabled = false;  // zimbraServiceEnabled has proxy
  // Effective values (own, else global config, else default; "" when none)
  // of the attributes in node_attributes().
  std::map<std::string, std::string, CaseInsensitiveLess> values;

  std::string value(std::string_view attr) const;
};

// The attributes read_node fills NodeState::values with.
const std::vector<std::string_view>& node_attributes();

// Errc::not_found (one line with the fix) when the server does not exist.
Result<NodeState> read_node(Provisioning& prov, std::string_view host);

// The changes for one entry: `zmprov ms <key> ...` or `zmprov mcf ...`.
struct EntryWrite {
  Kind kind = Kind::server;  // server or global
  std::string key;           // the server name; "" for the global config
  std::vector<AttrChange> changes;
};
using ProxySetupPlan = std::vector<EntryWrite>;

// The writes of REFERENCE-zimbra §4 for these options on this node: the
// global config first (-f), then the server. An attribute is written once
// per entry (the last value wins). Fails when the node has neither a mailbox
// nor a proxy, when a mailbox-only node's mailbox is not enabled (without
// -o), and for a plain-HTTP proxy mode with SSL to the upstream.
Result<ProxySetupPlan> plan_proxy_setup(const ProxySetupOptions& o, const NodeState& node);

// `zmprov ms mail.example.com zimbraImapBindPort 7143 ...`, each word quoted
// as a POSIX shell needs it.
std::string zmprov_command(const EntryWrite& write);

// Write the plan, entry by entry.
Result<void> apply_proxy_setup(Provisioning& prov, const ProxySetupPlan& plan);

// One line when, after the plan, a node with a proxy has nothing listening
// on port 80 or 443 (the proxy's HTTP side off or on other ports, and no
// mailbox web server there either), naming the attribute to fix.
std::optional<std::string> listen_warning(const NodeState& node, const ProxySetupPlan& plan);

}  // namespace zmproxy::provisioning

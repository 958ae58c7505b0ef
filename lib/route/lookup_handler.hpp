#pragma once
// The Route Lookup Handler's algorithm (Zimbra's NginxLookupExtension
// search(), REFERENCE-zimbra.md 1.5) over a RouteIndex: qualify bare names,
// find the account (address, alias, alias domain, zimbraId), apply the
// domain's allowed IPs, external routes and IMAP upstream pools, and pick the
// port through the zimbraReverseProxy*PortAttribute indirection. Pure given
// the index; host-name resolution is left to the caller (resolve_host).

#include <string>

#include "lib/route/lookup_protocol.hpp"
#include "lib/route/route_index.hpp"

namespace zmproxy::route {

struct LookupAnswer {
  LookupResponse response;
  // The answer's Auth-Server is a host name the caller must resolve to an
  // address (zimbraReverseProxyDnsLookupInServerEnabled), in this IP mode.
  bool resolve_host = false;
  std::string ip_mode = "ipv4";  // ipv4 | ipv6 | both
  // A lookup by name: the name the account was looked up by (lower case,
  // qualified); its buffer is the handler's to reuse.
  std::string looked_up{};
};

// `handler_server`: this handler's own server name (zimbra_server_hostname):
// its zimbraReverseProxyDnsLookupInServerEnabled and zimbraIPMode apply.
LookupAnswer handle_lookup(const LookupRequest& request, const RouteIndex& index,
                           std::string_view handler_server);
// The same into `out`, every field set, its strings' buffers kept: a
// connection that reuses one answer makes no allocation for a usual lookup.
void handle_lookup(const LookupRequest& request, const RouteIndex& index,
                   std::string_view handler_server, LookupAnswer& out);

// Auth-User qualified as step 1 does for a plain lookup (a bare name gets
// the virtual host's, the proxy address's or the default domain), lower case.
std::string qualify_user(const LookupRequest& request, const RouteIndex& index);

// Zimbra's AccountIdHash: |Java String.hashCode(id)| mod n.
std::size_t account_id_hash(std::string_view id, std::size_t n);

// Does `ip` match an entry of zimbraDomainAllowedIPs (address or CIDR, v4/v6)?
bool ip_allowed(std::string_view ip, const std::vector<std::string>& allowed);

}  // namespace zmproxy::route

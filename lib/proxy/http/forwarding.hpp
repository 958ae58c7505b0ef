#pragma once
// Who the client is, as told to the mailbox web server. The mailbox trusts
// the proxy's address (zimbraMailTrustedIP) and believes the leftmost
// X-Forwarded-For entry, so a client's own forwarding fields must never reach
// it: from an ordinary client, X-Forwarded-For, X-Real-IP, Forwarded,
// X-Forwarded-Host, X-Forwarded-Proto, X-Forwarded-Port and
// X-Forwarded-Server are dropped and ours set (X-Forwarded-For and X-Real-IP
// = the peer's address, X-Forwarded-Proto = the listener's scheme,
// X-Forwarded-Host = the checked Host). Only a peer in the trusted-proxies
// list (localconfig zmproxy_trusted_proxies: a balancer in front of us) keeps
// its fields: its X-Forwarded-For chain gets the peer's address appended,
// and ours are added only where it sent none. Pure.

#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::proxy::http {

// One of the fields named above (case-insensitive).
bool is_forwarding_field(std::string_view name);

// Whether the serializer leaves out the client's field `name`: every
// forwarding field from an untrusted peer; from a trusted one only
// X-Forwarded-For, which append_forwarding_fields writes as the whole chain.
bool drop_client_field(std::string_view name, bool trusted_peer);

struct ForwardingInput {
  std::string_view peer_ip;  // the address the connection came from
  std::string_view scheme;   // "http" or "https"
  std::string_view host;     // the Host the request is served for
  bool trusted_peer = false;
  // What the client sent (looked at only when trusted_peer): its
  // X-Forwarded-For values joined with ", ", and which of the others it had.
  std::string_view client_xff;
  bool client_has_real_ip = false;
  bool client_has_proto = false;
  bool client_has_host = false;
};

// Appends our forwarding fields to `out`, each as "Name: value\r\n".
void append_forwarding_fields(std::string& out, const ForwardingInput& in);

// The client behind a trusted peer: the right-most address of its
// X-Forwarded-For chain (`client_xff`, entries separated by commas) that is
// not itself in `trusted` (addresses or CIDRs); the entries left of it are
// the client's own word. Empty when the chain names no such address (then
// the peer is the client). What login throttling counts a web login from.
std::string_view forwarded_client(std::string_view client_xff,
                                  const std::vector<std::string>& trusted);

}  // namespace zmproxy::proxy::http

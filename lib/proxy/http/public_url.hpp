#pragma once
// Public URLs: the base of the REST/public URLs Zimbra generates for an
// account (zimbraPublicServiceHostname/Protocol/Port, REFERENCE-zimbra §3
// table I), and the rewrite of upstream Location headers that name a
// mailbox's internal address ("stray redirect" fix, §7.2). Pure.
//
// Thread affinity: none (pure functions).

#include <string>
#include <string_view>

namespace zmproxy::proxy::http {

struct PublicUrlInput {
  std::string domain_public_hostname;
  std::string domain_public_protocol;
  int domain_public_port = 0;
  std::string global_public_hostname;
  std::string global_public_protocol;
  int global_public_port = 0;
  std::string server_hostname;   // the account's home server zimbraServiceHostname
  std::string server_mail_mode;  // its zimbraMailMode
  int server_http_port = 0;      // zimbraMailPort
  int server_https_port = 0;     // zimbraMailSSLPort
};

// "scheme://host[:port]", no trailing slash:
//  1. a public hostname, the domain's or else globalConfig's; protocol and
//     port each the domain's when set, else globalConfig's, else https and
//     the protocol's default port (LDAP domain inheritance, attribute by
//     attribute);
//  2. else the home server: https unless its zimbraMailMode is http (an
//     unknown or empty mode counts as https), host zimbraServiceHostname,
//     port zimbraMailSSLPort or zimbraMailPort.
// Default ports (80 for http, 443 for https) and ports outside 1..65535 are
// left out; a protocol other than http/https (case-insensitive) counts as
// unset; an IPv6 literal host is bracketed. "" when no host name is known.
std::string public_base_url(const PublicUrlInput& in);

// If `location` is an absolute http(s) URL on the origin `internal_base`
// ("http://mbox1.example.com:8080"; scheme and host case-insensitive, an
// explicit default port equals none) and the origin is followed by '/', '?',
// '#' or the end, that origin is replaced by `public_base`. Hosts and ports
// are read by core::parse_address (IPv6 only in brackets; "host:" has no
// port). Anything else (relative URLs, other hosts or ports, user info, a
// host that is no DNS name or IP address, an unparsable base, an empty
// public_base) is returned unchanged. Trailing slashes of both bases are
// ignored.
std::string rewrite_location(std::string_view location, std::string_view internal_base,
                             std::string_view public_base);

}  // namespace zmproxy::proxy::http

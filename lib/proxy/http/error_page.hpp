#pragma once
// What the client gets when no mailbox web server answers (502) or one is
// too slow (504): Zimbra's error_page. With zimbraReverseProxyErrorHandlerURL
// set (http.error_handler_url), a 302 to "<url>?err=<code>&up=<upstreams>"
// ($upstream_addr: the addresses tried, ", " between them), the upstream part
// percent-encoded so that nothing in it can end the Location field or start
// another URL part; else a small built-in page that names no upstream.
//
// Thread affinity: none (pure functions).

#include <string>
#include <string_view>

namespace zmproxy::proxy::http {

// The Location of the redirect: `url`, then '?' (or '&' when `url` already
// has a query), "err=<status>&up=<encoded upstreams>".
std::string error_handler_location(std::string_view url, int status, std::string_view upstreams);

// Every byte but the unreserved ones (RFC 3986 §2.3: ALPHA DIGIT - . _ ~)
// as %XX.
std::string percent_encode_component(std::string_view text);

// The built-in page's sentence for a 502 or 504 (no address in it).
std::string_view upstream_error_text(int status);

}  // namespace zmproxy::proxy::http

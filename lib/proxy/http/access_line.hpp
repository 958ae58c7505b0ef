#pragma once
// The web access-log line of one request (Combined Log Format plus the
// upstream, the duration and what login throttling did), written to the
// generation's access log. Query credentials in the request line and the
// Referer are redacted first (log_redact.hpp); cookies and Authorization are
// never logged; control bytes and quotes in a field become '?'.

#include <chrono>
#include <cstdint>

namespace zmproxy::proxy::http {

struct ClientConnection;

// `bytes`: sent to the client for this request; `started`: when its head was read.
void log_request(ClientConnection& c, std::uint64_t bytes, std::chrono::steady_clock::time_point started);

}  // namespace zmproxy::proxy::http

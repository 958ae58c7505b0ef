#include "lib/proxy/http/access_line.hpp"

#include "lib/log/access_log.hpp"
#include "lib/log/logger.hpp"
#include "lib/proxy/generation.hpp"
#include "lib/proxy/http/client_connection.hpp"
#include "lib/proxy/http/log_redact.hpp"

#include <fmt/format.h>

#include <iterator>

namespace zmproxy::proxy::http {

// Combined log format plus the upstream and the duration, and what login
// throttling did (throttled:<reason>, tarpit=<ms>ms) when it did anything.
// Query credentials (zauthtoken, zjwt, preauth, auth) in the request line and
// the Referer are redacted first (log_redact.hpp); cookies and Authorization
// are never logged.
void log_request(ClientConnection& c, std::uint64_t bytes, std::chrono::steady_clock::time_point started) {
  redact_credentials(c.request_line);
  redact_credentials(c.referer);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  fmt::memory_buffer line;
  auto field = [&line](std::string_view v) {
    if (v.empty()) {
      line.push_back('-');
    }
    for (char ch : v) {
      const auto u = static_cast<unsigned char>(ch);
      line.push_back((u < 0x20 || u == 0x7f || ch == '"') ? '?' : ch);
    }
  };
  auto text = [&line](std::string_view v) { line.append(v.data(), v.data() + v.size()); };
  text(c.info.client_ip);
  text(" - - [");
  text(log::clf_time());
  text("] \"");
  field(c.request_line);
  fmt::format_to(std::back_inserter(line), "\" {} {} \"", c.status, bytes);
  field(c.referer);
  text("\" \"");
  field(c.user_agent);
  text("\" ");
  field(c.info.upstream);
  fmt::format_to(std::back_inserter(line), " {}ms", ms);
  if (!c.info.detail.empty()) {
    text(" ");
    field(c.info.detail);
  }
  c.shared->access_log->write_line(std::string_view(line.data(), line.size()));
}

}  // namespace zmproxy::proxy::http

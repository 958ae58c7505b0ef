#include "lib/config/throttle_settings.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace zmproxy::config {

namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

throttle::IpLimit ip_limit(int limit, milliseconds window) {
  return throttle::IpLimit{static_cast<std::uint64_t>(limit), duration_cast<seconds>(window)};
}

// A configured message as one line of text: no control byte reaches a
// client (the store is not trusted to keep CR/LF out), at most 200 bytes.
std::string one_line(std::string_view text) {
  std::string out(text.substr(0, 200));
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      c = ' ';
    }
  }
  return out;
}

}  // namespace

Result<throttle::ThrottleSettings> throttle_settings(const ThrottleSection& t) {
  throttle::ThrottleSettings s;
  s.ip = ip_limit(t.ip_limit, t.ip_window);
  s.imap = ip_limit(t.imap_ip_limit, t.imap_ip_window);
  s.pop3 = ip_limit(t.pop3_ip_limit, t.pop3_ip_window);
  s.user_limit = static_cast<std::uint64_t>(t.user_limit);
  s.user_window = duration_cast<seconds>(t.user_window);
  auto whitelist = throttle::IpWhitelist::build(t.whitelist);
  if (!whitelist) {
    return fail(Errc::invalid_argument, "throttle.whitelist: " + whitelist.error().message);
  }
  s.whitelist = std::move(*whitelist);
  s.ip_message = one_line(t.ip_message);
  s.user_message = one_line(t.user_message);
  s.count_failed_logins = t.failed_logins;
  s.failed_window = duration_cast<seconds>(t.failed_window);
  s.tarpit.free_failures = static_cast<std::uint64_t>(t.failed_free);
  s.tarpit.first_delay = t.failed_delay;
  s.tarpit.max_delay = t.failed_max_delay;
  s.failed_lock_after = static_cast<std::uint64_t>(t.failed_lock);
  return s;
}

}  // namespace zmproxy::config

#include "lib/throttle/login_throttle.hpp"

#include <string>
#include <utility>

namespace zmproxy::throttle {

namespace {

Decision refused(Reason reason, std::uint64_t count, std::uint64_t limit, std::chrono::seconds window) {
  Decision d;
  d.verdict = Verdict::refuse;
  d.reason = reason;
  d.count = count;
  d.limit = limit;
  d.retry_after = window;
  return d;
}

}  // namespace

const char* reason_name(Reason reason) noexcept {
  switch (reason) {
    case Reason::ip_limit:
      return "ip-limit";
    case Reason::user_limit:
      return "user-limit";
    case Reason::failed_logins:
      return "failed-logins";
    case Reason::none:
      break;
  }
  return "";
}

IpLimit ip_limit_for(const ThrottleSettings& settings, MailProtocol protocol) noexcept {
  const IpLimit& own = protocol == MailProtocol::pop3 ? settings.pop3 : settings.imap;
  return own.limit > 0 ? own : settings.ip;
}

LoginThrottle::LoginThrottle(ThrottleSettings settings, CounterStore& store)
    : m_settings(std::move(settings)), m_store(store) {}

StoreNotice LoginThrottle::note_store(bool answered) noexcept {
  const bool was_down = m_store_down.exchange(!answered);
  if (answered == was_down) {
    return answered ? StoreNotice::throttling_on : StoreNotice::throttling_off;
  }
  return StoreNotice::none;
}

Decision LoginThrottle::on_connection(MailProtocol protocol, std::string_view address) {
  const IpLimit applied = ip_limit_for(m_settings, protocol);
  if (applied.limit == 0 || m_settings.whitelist.contains(address)) {
    return Decision{};
  }
  const std::optional<std::uint64_t> count = m_store.incr(ip_counter_key(protocol, address), applied.window);
  Decision d;
  if (count && *count > applied.limit) {
    d = refused(Reason::ip_limit, *count, applied.limit, applied.window);
  } else if (count) {
    d.count = *count;
    d.limit = applied.limit;
  }
  d.notice = note_store(count.has_value());
  return d;
}

Decision LoginThrottle::before_login(std::string_view qualified_user,
                                     std::string_view address,
                                     bool suspect) {
  Decision d;
  bool answered = true;
  if (m_settings.user_limit > 0) {
    const std::optional<std::uint64_t> count = m_store.get(user_counter_key(qualified_user));
    answered = count.has_value();
    if (count && *count > m_settings.user_limit) {
      d = refused(Reason::user_limit, *count, m_settings.user_limit, m_settings.user_window);
      d.notice = note_store(true);
      return d;
    }
  }
  const bool lock = m_settings.count_failed_logins && m_settings.failed_lock_after > 0;
  const bool read_pair = m_settings.count_failed_logins && (lock || suspect);
  if (answered && read_pair) {
    const std::string key = failed_login_key(qualified_user, address);
    std::optional<std::uint64_t> failures;
    bool reserved = false;
    if (lock && suspect) {
      if (const std::optional<std::uint64_t> attempts =
              m_store.incr(key, m_settings.failed_window)) {
        failures = *attempts - 1;
        reserved = true;
      }
    } else {
      failures = m_store.get(key);
    }
    answered = failures.has_value();
    if (failures && lock && *failures >= m_settings.failed_lock_after) {
      d = refused(Reason::failed_logins, *failures, m_settings.failed_lock_after, m_settings.failed_window);
    } else if (failures) {
      d.delay = tarpit_delay(*failures, m_settings.tarpit);
    }
    d.failed_logins = failures.value_or(0);
    d.reserved = reserved;
  }
  if (m_settings.user_limit > 0 || read_pair) {
    d.notice = note_store(answered);
  }
  return d;
}

Decision LoginThrottle::after_login_success(std::string_view qualified_user, std::string_view address,
                                            const Decision& before) {
  Decision d;
  bool answered = true;
  if (m_settings.user_limit > 0) {
    const std::optional<std::uint64_t> count =
        m_store.incr(user_counter_key(qualified_user), m_settings.user_window);
    answered = count.has_value();
    if (count && *count > m_settings.user_limit) {
      d = refused(Reason::user_limit, *count, m_settings.user_limit, m_settings.user_window);
    } else if (count) {
      d.count = *count;
      d.limit = m_settings.user_limit;
    }
  }
  // The owner got in: the pair's failures were typos. Only deleted when
  // there were some (or this attempt was counted), so a clean login costs no
  // extra round trip.
  const bool forgive =
      m_settings.count_failed_logins && (before.failed_logins > 0 || before.reserved);
  if (forgive) {
    answered = m_store.remove(failed_login_key(qualified_user, address)) && answered;
  }
  if (m_settings.user_limit > 0 || forgive) {
    d.notice = note_store(answered);
  }
  return d;
}

Decision LoginThrottle::after_login_failure(std::string_view qualified_user,
                                            std::string_view address,
                                            const Decision& before) {
  Decision d;
  if (!m_settings.count_failed_logins) {
    return d;
  }
  d.limit = m_settings.failed_lock_after;
  if (before.reserved) {  // counted before the attempt
    d.count = before.failed_logins + 1;
    d.failed_logins = d.count;
    return d;
  }
  const std::optional<std::uint64_t> failures =
      m_store.incr(failed_login_key(qualified_user, address), m_settings.failed_window);
  d.count = failures.value_or(0);
  d.failed_logins = d.count;
  d.notice = note_store(failures.has_value());
  return d;
}

bool LoginThrottle::clear(std::string_view key) {
  return m_store.remove(key);
}

}  // namespace zmproxy::throttle

#include "lib/ctl/throttle_rows.hpp"

#include "lib/core/json.hpp"
#include "lib/core/strings.hpp"
#include "lib/throttle/address_text.hpp"
#include "lib/throttle/login_throttle.hpp"
#include "lib/throttle/tarpit.hpp"

#include <algorithm>
#include <charconv>
#include <sys/socket.h>
#include <tuple>

namespace zmproxy::ctl {

namespace {

using throttle::KeyKind;
using throttle::MailProtocol;
using throttle::ParsedKey;

constexpr std::string_view k_hex = "0123456789ABCDEF";

void append_escaped(std::string& out, unsigned char c) {
  out.push_back('%');
  out.push_back(k_hex[c >> 4]);
  out.push_back(k_hex[c & 0x0f]);
}

// The length of the valid, printable UTF-8 sequence at `s` (a lead byte >=
// 0x80), or 0.
std::size_t utf8_sequence(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = b(0);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    n = 2;
    cp = lead & 0x1fu;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3;
    cp = lead & 0x0fu;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4;
    cp = lead & 0x07u;
  } else {
    return 0;
  }
  if (s.size() < n) {
    return 0;
  }
  for (std::size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xc0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (b(i) & 0x3fu);
  }
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  const bool bad = cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f);
  return overlong || bad ? 0 : n;
}

std::string optional_json(const std::optional<std::uint64_t>& v) {
  return v ? std::to_string(*v) : "null";
}

std::string string_or_null(std::string_view s) {
  return s.empty() ? "null" : core::json_quote(printable(s));
}

std::string expires_text(const std::optional<std::int64_t>& expires_in) {
  if (!expires_in) {
    return "?";
  }
  if (*expires_in < 0) {
    return "never";
  }
  return std::to_string(*expires_in) + "s";
}

std::string delay_text(std::chrono::milliseconds delay) {
  const auto ms = delay.count();
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  return std::to_string(ms) + "ms";
}

int state_rank(RowState state) {
  switch (state) {
    case RowState::blocked:
    case RowState::locked:
      return 0;
    case RowState::tarpit:
      return 1;
    case RowState::none:
      return 2;
    case RowState::whitelisted:
      break;
  }
  return 3;
}

const char* state_name(RowState state) {
  switch (state) {
    case RowState::blocked:
      return "blocked";
    case RowState::locked:
      return "locked";
    case RowState::tarpit:
      return "tarpit";
    case RowState::whitelisted:
      return "whitelisted";
    case RowState::none:
      break;
  }
  return "none";
}

// `address` as a parsed address alone; IPv4-mapped IPv6 as IPv4.
std::optional<net::AddressBlock> key_address(std::string_view text) {
  if (text.find('/') != std::string_view::npos) {
    return std::nullopt;
  }
  std::optional<net::AddressBlock> a = net::parse_address_block(text);
  if (a && a->family == AF_INET6) {
    static constexpr unsigned char k_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(k_mapped, k_mapped + 12, a->bytes.begin())) {
      net::AddressBlock v4;
      v4.family = AF_INET;
      v4.bits = 32;
      std::copy(a->bytes.begin() + 12, a->bytes.end(), v4.bytes.begin());
      return v4;
    }
  }
  return a;
}

}  // namespace

std::optional<std::uint64_t> parse_count(std::string_view value) {
  while (!value.empty() && value.back() == ' ') {
    value.remove_suffix(1);
  }
  if (value.empty() ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc{} || end != value.data() + value.size()) {
    return std::nullopt;
  }
  return n;
}

void judge(ThrottleRow& row, const throttle::ThrottleSettings& settings) {
  row.limit = 0;
  row.state = RowState::none;
  row.delay = std::chrono::milliseconds{0};
  const std::uint64_t count = row.count.value_or(0);
  switch (row.parsed.kind) {
    case KeyKind::ip:
      row.limit = throttle::ip_limit_for(settings, row.parsed.protocol).limit;
      break;
    case KeyKind::user:
      row.limit = settings.user_limit;
      break;
    case KeyKind::failed_logins:
      if (!settings.count_failed_logins || !row.count) {
        return;
      }
      row.limit = settings.failed_lock_after;
      if (row.limit > 0 && count >= row.limit) {
        row.state = RowState::locked;
        return;
      }
      // The wait the pair's next failure gets before it is told (zmproxyd
      // holds a failure's answer for the tarpit of its new count).
      row.delay = throttle::tarpit_delay(count + 1, settings.tarpit);
      if (row.delay.count() > 0) {
        row.state = RowState::tarpit;
      }
      return;
    case KeyKind::whitelist_verdict:
      if (count == 1) {
        row.state = RowState::whitelisted;
      }
      return;
  }
  if (row.count && row.limit > 0 && count >= row.limit) {
    row.state = RowState::blocked;
  }
}

void sort_rows(std::vector<ThrottleRow>& rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const ThrottleRow& a, const ThrottleRow& b) {
    if (state_rank(a.state) != state_rank(b.state)) {
      return state_rank(a.state) < state_rank(b.state);
    }
    if (a.count.value_or(0) != b.count.value_or(0)) {
      return a.count.value_or(0) > b.count.value_or(0);
    }
    return std::make_tuple(kind_name(a.parsed), who(a.parsed), a.server) <
           std::make_tuple(kind_name(b.parsed), who(b.parsed), b.server);
  });
}

std::string kind_name(const ParsedKey& key) {
  switch (key.kind) {
    case KeyKind::ip:
      return key.protocol == MailProtocol::pop3 ? "ip/pop3" : "ip/imap";
    case KeyKind::user:
      return "user";
    case KeyKind::failed_logins:
      return "failed-logins";
    case KeyKind::whitelist_verdict:
      break;
  }
  return "whitelist-verdict";
}

std::string who(const ParsedKey& key) {
  switch (key.kind) {
    case KeyKind::user:
      return printable(key.user);
    case KeyKind::failed_logins:
      return printable(key.user) + " from " + printable(key.address);
    case KeyKind::ip:
    case KeyKind::whitelist_verdict:
      break;
  }
  return printable(key.address);
}

std::string state_text(const ThrottleRow& row) {
  switch (row.state) {
    case RowState::none:
      return "-";
    case RowState::tarpit:
      return "tarpit " + delay_text(row.delay);
    default:
      return state_name(row.state);
  }
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      append_escaped(out, c);
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (const std::size_t n = utf8_sequence(text.substr(i)); n > 0) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      append_escaped(out, c);
      ++i;
    }
  }
  return out;
}

std::string rows_text(const std::vector<ThrottleRow>& rows) {
  std::vector<std::vector<std::string>> cells;
  cells.push_back({"KIND", "WHO", "COUNT", "LIMIT", "EXPIRES", "STATE", "SERVER"});
  for (const ThrottleRow& row : rows) {
    cells.push_back({kind_name(row.parsed), who(row.parsed),
                     row.count ? std::to_string(*row.count) : "?",
                     row.limit > 0 ? std::to_string(row.limit) : "-", expires_text(row.expires_in),
                     state_text(row), row.server});
  }
  std::vector<std::size_t> width(7, 0);
  for (const auto& line : cells) {
    for (std::size_t i = 0; i < line.size(); ++i) {
      width[i] = std::max(width[i], line[i].size());
    }
  }
  // Numbers right-aligned, words left-aligned; no trailing blanks.
  constexpr bool k_right[7] = {false, false, true, true, true, false, false};
  std::string out;
  for (const auto& line : cells) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const std::string pad(width[i] - line[i].size(), ' ');
      if (i > 0) {
        text.append("  ");
      }
      if (k_right[i]) {
        text.append(pad).append(line[i]);
      } else {
        text.append(line[i]);
        if (i + 1 < line.size()) {
          text.append(pad);
        }
      }
    }
    out.append(text).push_back('\n');
  }
  return out;
}

std::string rows_json(const std::vector<ThrottleRow>& rows) {
  std::string out = "[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const ThrottleRow& row = rows[i];
    if (i > 0) {
      out.push_back(',');
    }
    out += "{\"kind\":" + core::json_quote(kind_name(row.parsed));
    out += ",\"address\":" + string_or_null(row.parsed.address);
    out += ",\"user\":" + string_or_null(row.parsed.user);
    out += ",\"count\":" + optional_json(row.count);
    out += ",\"limit\":" + (row.limit > 0 ? std::to_string(row.limit) : std::string("null"));
    out += ",\"expires_in\":" +
           (row.expires_in ? std::to_string(*row.expires_in) : std::string("null"));
    out += ",\"state\":" + core::json_quote(state_name(row.state));
    out += ",\"delay_ms\":" + std::to_string(row.delay.count());
    out += ",\"server\":" + core::json_quote(printable(row.server));
    out += ",\"key\":" + core::json_quote(printable(row.key)) + "}";
  }
  out += "]\n";
  return out;
}

std::string removed_line(const ThrottleRow& row) {
  return "removed " + kind_name(row.parsed) + " " + who(row.parsed) + " (count " +
         (row.count ? std::to_string(*row.count) : std::string("?")) + ") on " + row.server;
}

std::optional<ThrottleTarget> parse_target(std::string_view text) {
  text = core::trim(text);
  if (text.empty()) {
    return std::nullopt;
  }
  ThrottleTarget target;
  if (net::is_address_or_cidr(text)) {
    if (std::optional<std::string> alone = throttle::nginx_address_text(text)) {
      target.address = *alone;
      target.block = key_address(*alone);
    } else {
      target.block = net::parse_address_block(text);
    }
    return target;
  }
  target.user = core::to_lower(text);
  return target;
}

bool matches(const ThrottleTarget& target, const ParsedKey& key) {
  if (target.block) {
    if (key.kind == KeyKind::user) {
      return false;
    }
    const std::optional<net::AddressBlock> address = key_address(key.address);
    return address && address->family == target.block->family &&
           net::block_contains(*target.block, *address);
  }
  return (key.kind == KeyKind::user || key.kind == KeyKind::failed_logins) &&
         core::iequals(key.user, target.user);
}

std::vector<std::pair<std::string, ParsedKey>> direct_keys(const ThrottleTarget& target) {
  std::vector<std::pair<std::string, ParsedKey>> out;
  if (!target.address.empty()) {
    for (const MailProtocol protocol : {MailProtocol::imap, MailProtocol::pop3}) {
      out.emplace_back(throttle::ip_counter_key(protocol, target.address),
                       ParsedKey{KeyKind::ip, protocol, target.address, ""});
    }
    out.emplace_back(throttle::whitelist_verdict_key(target.address),
                     ParsedKey{KeyKind::whitelist_verdict, MailProtocol::imap, target.address, ""});
  } else if (!target.block) {
    out.emplace_back(throttle::user_counter_key(target.user),
                     ParsedKey{KeyKind::user, MailProtocol::imap, "", target.user});
  }
  return out;
}

}  // namespace zmproxy::ctl

#include "lib/ctl/throttle_control.hpp"

#include "lib/config/proxy_config.hpp"
#include "lib/config/throttle_settings.hpp"
#include "lib/ctl/throttle_rows.hpp"
#include "lib/route/memcached_cache.hpp"
#include "lib/route/memcached_scan.hpp"

#include <algorithm>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <ostream>
#include <set>

namespace zmproxy::ctl {

namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

constexpr int k_ok = 0;
constexpr int k_failed = 1;
constexpr int k_usage = 2;

enum class Verb { list, show, clear };

// One server: its connection (kept for clear) and what it holds.
struct ServerScan {
  std::optional<route::MemcachedScan> scan;
  std::vector<ThrottleRow> rows;
};

// The rows of one server: the keys its dump lists that `wanted` accepts,
// plus `direct` (asked for by name, so found also where the server cannot
// list its keys). Errors go to `err`; false when the server could not be
// asked completely.
bool scan_server(route::MemcachedScan& scan,
                 const std::function<std::optional<throttle::ParsedKey>(std::string_view)>& wanted,
                 const std::vector<std::pair<std::string, throttle::ParsedKey>>& direct,
                 const throttle::ThrottleSettings& settings,
                 std::vector<ThrottleRow>& rows,
                 std::ostream& err) {
  bool complete = true;
  std::map<std::string, std::pair<throttle::ParsedKey, std::optional<std::int64_t>>>
      found;  // key -> parsed, expiry
  std::optional<std::int64_t> now;
  auto dumped = scan.dump_keys([&](std::string_view key) { return wanted(key).has_value(); });
  if (dumped) {
    if (!dumped->empty()) {
      auto clock = scan.clock();
      if (!clock) {
        err << "zmproxyctl: " << clock.error().message << "\n";
        return false;
      }
      now = *clock;
    }
    for (route::MetadumpEntry& entry : *dumped) {
      std::optional<throttle::ParsedKey> parsed = wanted(entry.key);
      std::optional<std::int64_t> expires_in = -1;
      if (entry.expires) {
        expires_in = std::max<std::int64_t>(*entry.expires - *now, 0);
      }
      found.emplace(std::move(entry.key), std::make_pair(std::move(*parsed), expires_in));
    }
  } else {
    err << "zmproxyctl: " << dumped.error().message << "\n";
    if (dumped.error().code != Errc::permission_denied) {
      return false;  // the connection is gone
    }
    complete = false;
  }
  for (const auto& [key, parsed] : direct) {
    found.emplace(key, std::make_pair(parsed, std::nullopt));  // kept when the dump listed it
  }
  std::vector<std::string> keys;
  keys.reserve(found.size());
  for (const auto& entry : found) {
    keys.push_back(entry.first);
  }
  auto values = scan.get(keys);
  if (!values) {
    err << "zmproxyctl: " << values.error().message << "\n";
    return false;
  }
  for (auto& [key, value] : *values) {
    auto it = found.find(key);
    if (it == found.end()) {
      continue;
    }
    ThrottleRow row;
    row.parsed = it->second.first;
    row.server = scan.name();
    row.key = key;
    row.count = parse_count(value);
    row.expires_in = it->second.second;
    judge(row, settings);
    rows.push_back(std::move(row));
  }
  return complete;
}

}  // namespace

int proxy_throttle(const ThrottleOptions& o, std::ostream& out, std::ostream& err) {
  const std::vector<std::string>& a = o.args;
  std::optional<Verb> verb;
  if (a.size() == 1 && a[0] == "list") {
    verb = Verb::list;
  } else if (a.size() == 2 && a[0] == "show") {
    verb = Verb::show;
  } else if (a.size() == 2 && a[0] == "clear" && !o.json) {
    verb = Verb::clear;
  }
  std::optional<ThrottleTarget> target;
  if (verb && *verb != Verb::list) {
    target = parse_target(a[1]);
  }
  if (!verb || (*verb != Verb::list && !target)) {
    err << k_throttle_usage << "\n";
    return k_usage;
  }

  const std::filesystem::path file = o.home.conf() / "zmproxy.conf";
  auto config = config::load_config(file, o.home.home);
  if (!config) {
    err << "zmproxyctl: " << config.error().message << "\n";
    return k_failed;
  }
  const config::RouteSection& route = (*config)->route;
  if (route.memcached.empty()) {
    err << "zmproxyctl: throttling needs memcached: [route] memcached in " << file.string()
        << " is empty; enable memcached on a server (zmprov ms SERVER +zimbraServiceEnabled "
           "memcached) "
           "and run zmproxyctl genconf\n";
    return k_failed;
  }
  // The whitelist was checked when the configuration loaded.
  const throttle::ThrottleSettings settings =
      config::throttle_settings((*config)->throttle).value_or(throttle::ThrottleSettings{});

  const auto wanted = [&](std::string_view key) -> std::optional<throttle::ParsedKey> {
    std::optional<throttle::ParsedKey> parsed = throttle::parse_throttle_key(key);
    if (parsed && target && !matches(*target, *parsed)) {
      return std::nullopt;
    }
    return parsed;
  };
  const std::vector<std::pair<std::string, throttle::ParsedKey>> direct =
      target ? direct_keys(*target) : std::vector<std::pair<std::string, throttle::ParsedKey>>{};

  bool failed = false;
  std::vector<ServerScan> servers;
  std::vector<ThrottleRow> rows;
  std::set<std::pair<std::string, std::uint16_t>> seen;
  for (const std::string& entry : route.memcached) {
    auto server = route::parse_memcached_server(entry);
    if (!server) {
      err << "zmproxyctl: " << server.error().message << "\n";
      failed = true;
      continue;
    }
    if (!seen.emplace(server->host, server->port).second) {
      continue;
    }
    auto scan = route::MemcachedScan::open(*server, route.memcached_timeout);
    if (!scan) {
      err << "zmproxyctl: " << scan.error().message << "\n";
      failed = true;
      continue;
    }
    ServerScan s;
    s.scan.emplace(std::move(*scan));
    failed = !scan_server(*s.scan, wanted, direct, settings, s.rows, err) || failed;
    servers.push_back(std::move(s));
  }

  if (*verb != Verb::clear) {
    for (ServerScan& s : servers) {
      std::move(s.rows.begin(), s.rows.end(), std::back_inserter(rows));
    }
    sort_rows(rows);
    if (o.json) {
      out << rows_json(rows);
    } else if (rows.empty()) {
      out << (target ? "no throttle counters for " + printable(a[1])
                     : std::string("no throttle counters"))
          << "\n";
    } else {
      out << rows_text(rows);
    }
    return failed ? k_failed : k_ok;
  }

  std::size_t removed = 0;
  for (ServerScan& s : servers) {
    sort_rows(s.rows);
    for (const ThrottleRow& row : s.rows) {
      auto deleted = s.scan->remove(row.key);
      if (!deleted) {
        err << "zmproxyctl: " << deleted.error().message << "\n";
        failed = true;
        break;
      }
      if (*deleted) {  // else it expired meanwhile
        out << removed_line(row) << "\n";
        ++removed;
      }
    }
  }
  if (removed == 0) {
    out << "nothing to clear for " << printable(a[1]) << "\n";
  }
  return failed ? k_failed : k_ok;
}

}  // namespace zmproxy::ctl

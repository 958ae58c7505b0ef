#include "lib/route/memcached_scan.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include "lib/core/address.hpp"
#include "lib/route/cache_key.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <sys/socket.h>
#include <thread>
#include <utility>

namespace zmproxy::route {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t k_recv_chunk = 16 * 1024;
// `get` commands carry keys up to this many bytes each (memcached takes far
// longer lines for get, but other servers in between may not).
constexpr std::size_t k_get_line = 2000;
// A crawler busy with another dump: tries, and the pause between them.
constexpr int k_busy_tries = 20;
constexpr milliseconds k_busy_pause{50};

// The time left until `deadline`, at most `cap`, as poll's int (0 when past).
int wait_ms(Clock::time_point deadline, milliseconds cap) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp(left, milliseconds{0}, cap).count());
}

std::string errno_text(int err) {
  return std::strerror(err);
}

// A non-blocking socket connected to one address within `timeout`, or -1
// with `why` set.
int connect_one(const addrinfo& ai, milliseconds timeout, std::string& why) {
  const int fd =
      ::socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai.ai_protocol);
  if (fd < 0) {
    why = errno_text(errno);
    return -1;
  }
  if (::connect(fd, ai.ai_addr, ai.ai_addrlen) == 0) {
    return fd;
  }
  if (errno != EINPROGRESS) {
    why = errno_text(errno);
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  int err = 0;
  socklen_t len = sizeof err;
  if (ready <= 0) {
    why = ready == 0 ? "no answer within " + std::to_string(timeout.count()) + " ms"
                     : errno_text(errno);
  } else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    why = errno_text(err != 0 ? err : errno);
  } else {
    return fd;
  }
  ::close(fd);
  return -1;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// What a refused dump means, with the fix (memcached 1.6's replies).
std::string dump_refusal(const std::string& name,
                         const std::string& host,
                         std::uint16_t port,
                         std::string_view reply) {
  if (reply.find("not allowed") != std::string_view::npos) {
    return "memcached " + name +
           " does not allow listing its keys (started with -X, --disable-dumping): "
           "remove -X from its options (/etc/memcached.conf) and restart it";
  }
  if (reply.find("crawler disabled") != std::string_view::npos) {
    return "memcached " + name +
           " cannot list its keys: its LRU crawler is off (-o no_lru_crawler): run "
           "`echo 'lru_crawler enable' | nc -q1 " +
           host + " " + std::to_string(port) + "` or drop no_lru_crawler from its options";
  }
  return "memcached " + name +
         " refused to list its keys (lru_crawler metadump needs memcached 1.4.31 or "
         "later): " +
         std::string(reply.substr(0, 200));
}

}  // namespace

Result<MemcachedScan> MemcachedScan::open(const MemcachedServer& server,
                                          milliseconds timeout,
                                          ScanLimits limits) {
  const std::string name = core::format_address(server.host, server.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(server.port);
  if (const int rc = ::getaddrinfo(server.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return fail(Errc::unavailable, "memcached " + name + ": cannot resolve " + server.host + ": " +
                                       ::gai_strerror(rc));
  }
  std::string why = "no address";
  int fd = -1;
  for (const addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = connect_one(*ai, timeout, why);
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    return fail(Errc::unavailable, "memcached " + name + " does not answer: " + why);
  }
  return MemcachedScan(fd, server, timeout, limits);
}

MemcachedScan::MemcachedScan(int fd,
                             MemcachedServer server,
                             milliseconds timeout,
                             ScanLimits limits)
    : m_fd(fd),
      m_server(std::move(server)),
      m_name(core::format_address(m_server.host, m_server.port)),
      m_timeout(timeout),
      m_limits(limits) {}

MemcachedScan::MemcachedScan(MemcachedScan&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)),
      m_server(std::move(other.m_server)),
      m_name(std::move(other.m_name)),
      m_timeout(other.m_timeout),
      m_limits(other.m_limits),
      m_buffer(std::move(other.m_buffer)),
      m_start(other.m_start) {}

MemcachedScan& MemcachedScan::operator=(MemcachedScan&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = std::exchange(other.m_fd, -1);
    m_server = std::move(other.m_server);
    m_name = std::move(other.m_name);
    m_timeout = other.m_timeout;
    m_limits = other.m_limits;
    m_buffer = std::move(other.m_buffer);
    m_start = other.m_start;
  }
  return *this;
}

MemcachedScan::~MemcachedScan() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

Clock::time_point MemcachedScan::command_deadline() const {
  return Clock::now() + m_limits.command_deadline;
}

tl::unexpected<Error> MemcachedScan::broken(std::string why) {
  if (m_fd >= 0) {
    ::close(m_fd);
    m_fd = -1;
  }
  return fail(Errc::unavailable, "memcached " + m_name + ": " + why);
}

Result<void> MemcachedScan::send(std::string_view command, Clock::time_point deadline) {
  if (m_fd < 0) {
    return fail(Errc::unavailable,
                "memcached " + m_name + ": connection closed after an earlier error");
  }
  while (!command.empty()) {
    pollfd p{m_fd, POLLOUT, 0};
    const int ready = ::poll(&p, 1, wait_ms(deadline, m_timeout));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      return broken(ready == 0
                        ? "no room to send within " + std::to_string(m_timeout.count()) + " ms"
                        : errno_text(errno));
    }
    const ssize_t n = ::send(m_fd, command.data(), command.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
        continue;
      }
      return broken("send: " + errno_text(errno));
    }
    command.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> MemcachedScan::fill(Clock::time_point deadline) {
  if (m_fd < 0) {
    return fail(Errc::unavailable,
                "memcached " + m_name + ": connection closed after an earlier error");
  }
  if (m_start > 0) {
    m_buffer.erase(0, m_start);
    m_start = 0;
  }
  for (;;) {
    pollfd p{m_fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, wait_ms(deadline, m_timeout));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      return broken(ready == 0 ? "no answer within " + std::to_string(m_timeout.count()) + " ms"
                               : errno_text(errno));
    }
    const std::size_t old = m_buffer.size();
    m_buffer.resize(old + k_recv_chunk);
    const ssize_t n = ::recv(m_fd, m_buffer.data() + old, k_recv_chunk, 0);
    m_buffer.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) {
      return {};
    }
    if (n == 0) {
      return broken("closed the connection");
    }
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return broken("receive: " + errno_text(errno));
    }
  }
}

Result<std::string> MemcachedScan::read_line(Clock::time_point deadline) {
  std::size_t searched = m_start;
  for (;;) {
    const std::size_t nl = m_buffer.find('\n', searched);
    if (nl != std::string::npos) {
      std::size_t end = nl;
      if (end > m_start && m_buffer[end - 1] == '\r') {
        --end;
      }
      std::string line = m_buffer.substr(m_start, end - m_start);
      m_start = nl + 1;
      return line;
    }
    if (m_buffer.size() - m_start > m_limits.max_line_bytes) {
      return broken("a reply line longer than " + std::to_string(m_limits.max_line_bytes) +
                    " bytes");
    }
    searched = m_buffer.size() - m_start;
    ZMPROXY_TRY(fill(deadline));
    searched += m_start;  // fill moved the unconsumed bytes to the front (m_start is 0)
  }
}

Result<std::string> MemcachedScan::read_bytes(std::size_t n, Clock::time_point deadline) {
  while (m_buffer.size() - m_start < n) {
    ZMPROXY_TRY(fill(deadline));
  }
  std::string out = m_buffer.substr(m_start, n);
  m_start += n;
  return out;
}

Result<std::vector<MetadumpEntry>> MemcachedScan::dump_keys(
    const std::function<bool(std::string_view)>& keep) {
  const Clock::time_point deadline = Clock::now() + m_limits.dump_deadline;
  std::vector<MetadumpEntry> kept;
  // "hash" walks the hash table: every live key once. "all" walks the LRUs,
  // and misses a key the server moves between them meanwhile (a fresh
  // counter, seen on 1.6.18); only for servers that do not know "hash".
  bool walk_hash = true;
  for (int attempt = 0;; ++attempt) {
    ZMPROXY_TRY(send(walk_hash ? "lru_crawler metadump hash\r\n" : "lru_crawler metadump all\r\n",
                     deadline));
    auto first = read_line(deadline);
    if (!first) {
      return tl::unexpected(std::move(first).error());
    }
    if (walk_hash &&
        (first->rfind("BADCLASS", 0) == 0 ||
         (first->rfind("CLIENT_ERROR", 0) == 0 && first->find("class") != std::string::npos))) {
      walk_hash = false;
      continue;
    }
    // Another client's crawl is running: wait for it, a bounded number of times.
    if (first->rfind("BUSY", 0) == 0 && attempt + 1 < k_busy_tries) {
      std::this_thread::sleep_for(k_busy_pause);
      continue;
    }
    if (first->rfind("ERROR", 0) == 0 || first->rfind("CLIENT_ERROR", 0) == 0 ||
        first->rfind("SERVER_ERROR", 0) == 0 || first->rfind("BUSY", 0) == 0) {
      return fail(Errc::permission_denied,
                  dump_refusal(m_name, m_server.host, m_server.port, *first));
    }
    std::string line = std::move(*first);
    for (std::uint64_t lines = 1;; ++lines) {
      if (line == "END") {
        return kept;
      }
      if (lines > m_limits.max_dump_lines) {
        return broken("lists more than " + std::to_string(m_limits.max_dump_lines) + " keys");
      }
      std::optional<MetadumpEntry> entry = parse_metadump_line(line);
      if (!entry) {
        return broken("unexpected key dump line '" + line.substr(0, 120) + "'");
      }
      if (keep(entry->key)) {
        if (kept.size() >= m_limits.max_kept) {
          return broken("holds more than " + std::to_string(m_limits.max_kept) +
                        " keys of the kind asked for");
        }
        kept.push_back(std::move(*entry));
      }
      auto next = read_line(deadline);
      if (!next) {
        return tl::unexpected(std::move(next).error());
      }
      line = std::move(*next);
    }
  }
}

Result<std::int64_t> MemcachedScan::clock() {
  const Clock::time_point deadline = command_deadline();
  ZMPROXY_TRY(send("stats\r\n", deadline));
  std::optional<std::int64_t> time;
  for (int lines = 0; lines < 1000; ++lines) {
    auto line = read_line(deadline);
    if (!line) {
      return tl::unexpected(std::move(line).error());
    }
    if (*line == "END") {
      if (!time) {
        return broken("stats without STAT time");
      }
      return *time;
    }
    if (line->rfind("STAT time ", 0) == 0) {
      const std::string_view value = std::string_view(*line).substr(10);
      std::int64_t t = 0;
      if (!all_digits(value) ||
          std::from_chars(value.data(), value.data() + value.size(), t).ec != std::errc{}) {
        return broken("unexpected stats line '" + line->substr(0, 120) + "'");
      }
      time = t;
    } else if (line->rfind("STAT ", 0) != 0) {
      return broken("unexpected stats line '" + line->substr(0, 120) + "'");
    }
  }
  return broken("stats longer than 1000 lines");
}

Result<std::map<std::string, std::string>> MemcachedScan::get(
    const std::vector<std::string>& keys) {
  std::map<std::string, std::string> values;
  std::size_t next = 0;
  while (next < keys.size()) {
    std::string command = "get";
    std::size_t batch = 0;
    while (next < keys.size() &&
           (batch == 0 || command.size() + 1 + keys[next].size() <= k_get_line)) {
      if (!is_safe_key(keys[next])) {
        return fail(Errc::invalid_argument,
                    "memcached " + m_name + ": refusing to send a key that is not wire-safe");
      }
      command.append(" ").append(keys[next]);
      ++next;
      ++batch;
    }
    command.append("\r\n");
    const Clock::time_point deadline = command_deadline();
    ZMPROXY_TRY(send(command, deadline));
    for (std::size_t replies = 0;; ++replies) {
      auto line = read_line(deadline);
      if (!line) {
        return tl::unexpected(std::move(line).error());
      }
      if (*line == "END") {
        break;
      }
      // VALUE <key> <flags> <bytes> [<cas>]
      const std::vector<std::string> parts = [&] {
        std::vector<std::string> out;
        std::string_view rest = *line;
        while (!rest.empty() && out.size() < 6) {
          const std::size_t sp = rest.find(' ');
          out.emplace_back(rest.substr(0, sp));
          rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
        }
        return out;
      }();
      std::size_t bytes = 0;
      if (replies >= batch || parts.size() < 4 || parts.size() > 5 || parts[0] != "VALUE" ||
          !all_digits(parts[3]) ||
          std::from_chars(parts[3].data(), parts[3].data() + parts[3].size(), bytes).ec !=
              std::errc{}) {
        return broken("unexpected get reply '" + line->substr(0, 120) + "'");
      }
      if (bytes > m_limits.max_value_bytes) {
        return broken("a value of " + std::to_string(bytes) + " bytes for " + parts[1] +
                      " (at most " + std::to_string(m_limits.max_value_bytes) + " expected)");
      }
      auto data = read_bytes(bytes + 2, deadline);
      if (!data) {
        return tl::unexpected(std::move(data).error());
      }
      if (data->compare(bytes, 2, "\r\n") != 0) {
        return broken("a value not ended by CR LF");
      }
      data->resize(bytes);
      values[parts[1]] = std::move(*data);
    }
  }
  return values;
}

Result<bool> MemcachedScan::remove(std::string_view key) {
  if (!is_safe_key(key)) {
    return fail(Errc::invalid_argument,
                "memcached " + m_name + ": refusing to send a key that is not wire-safe");
  }
  const Clock::time_point deadline = command_deadline();
  std::string command = "delete ";
  command.append(key).append("\r\n");
  ZMPROXY_TRY(send(command, deadline));
  auto line = read_line(deadline);
  if (!line) {
    return tl::unexpected(std::move(line).error());
  }
  if (*line == "DELETED") {
    return true;
  }
  if (*line == "NOT_FOUND") {
    return false;
  }
  return broken("unexpected delete reply '" + line->substr(0, 120) + "'");
}

}  // namespace zmproxy::route

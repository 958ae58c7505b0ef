// loadgen: an IMAP load generator for bench/compare (blocking sockets, one
// thread per client; plain TCP or implicit TLS; standard library, POSIX and
// OpenSSL only).
//
//   loadgen login --target H:P [--target H:P ...] --clients N
//                 [--duration S] [--sessions M] [--users K]
//                 [--user-format user%d@bench.test] [--pass-format pw%d]
//       each client loops: connect, greeting, LOGIN, SELECT INBOX,
//       FETCH 1 (BODY[]), LOGOUT; every reply must be a tagged OK.
//   loadgen pop3 ... (same options as login)
//       each client loops: connect, greeting, USER, PASS, STAT, RETR 1,
//       QUIT; every reply must be +OK (the login time is USER to PASS's +OK).
//   loadgen fetch ... --clients N --duration S
//       each client logs in once, SELECT, finds the largest message
//       (FETCH 1:* RFC822.SIZE) and FETCHes it (BODY.PEEK[]) repeatedly.
//   loadgen idle ... --clients N [--timeout S]
//       opens N connections, LOGIN, SELECT, IDLE; prints "ESTABLISHED N"
//       then waits until stdin closes (or the timeout), then DONE + LOGOUT;
//       the JSON's "tls" is the negotiated protocol ("" without --tls).
//
// --tls (every mode): after the TCP connect, a TLS handshake (TLS 1.2 or
// later, no certificate verification: the bench uses a self-signed
// certificate), then every read and write goes through SSL_read/SSL_write on
// the same blocking socket (IMAPS, or POP3S for pop3).
//
// User i (i = 0..K-1) is user-format % i with password pass-format % i and
// connects to target i % (number of targets): several --target options model
// users split across backends (user i on backend i % 2).
// Output: one JSON object on stdout. Exit status 0 when there were no errors.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Target {
  std::string host;
  int port = 0;
};

struct Options {
  std::string mode;
  std::vector<Target> targets;
  int clients = 1;
  double duration = 10.0;
  long sessions = 0;  // 0 = unbounded (duration only)
  int users = 1;
  int user_offset = 0;
  std::string user_format = "user%d@bench.test";
  std::string pass_format = "pw%d";
  double timeout = 600.0;  // idle: the longest hold
  int io_timeout = 30;     // seconds per socket read/write
  bool tls = false;        // implicit TLS after connect
  SSL_CTX* tls_ctx = nullptr;  // made by main() when tls
};

// "<what: the oldest OpenSSL error>" (the queue cleared), or errno's text
// when nothing was queued (a timeout or reset under SSL_read/SSL_write).
std::string tls_error(const char* what, int err = 0) {
  char text[256] = "no OpenSSL error queued";
  unsigned long e = ERR_get_error();
  if (e != 0) {
    ERR_error_string_n(e, text, sizeof text);
  } else if (err != 0) {
    std::snprintf(text, sizeof text, "%s", std::strerror(err));
  }
  ERR_clear_error();
  return std::string("<") + what + ": " + text + ">";
}

// A client context: TLS 1.2+, no verification, small idle footprint.
SSL_CTX* make_tls_client() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

std::string format_int(const std::string& fmt, int i) {
  // The first "%d" becomes i (no printf with a format from the command line).
  std::string out = fmt;
  auto p = out.find("%d");
  if (p != std::string::npos) out.replace(p, 2, std::to_string(i));
  return out;
}

// A connection with a small line reader.
class Conn {
 public:
  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() { close(); }

  // TCP connect; with tls_ctx also the TLS handshake.
  bool connect_to(const Target& t, int io_timeout, SSL_CTX* tls_ctx = nullptr) {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{};
    tv.tv_sec = io_timeout;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(t.port));
    if (::inet_pton(AF_INET, t.host.c_str(), &sa.sin_addr) != 1) return false;
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      last_line_ = std::string("<connect: ") + std::strerror(errno) + ">";
      return false;
    }
    if (tls_ctx != nullptr) {
      ssl_ = SSL_new(tls_ctx);
      if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
        last_line_ = tls_error("SSL_new");
        return false;
      }
      errno = 0;
      if (SSL_connect(ssl_) != 1) {
        last_line_ = tls_error("TLS handshake", errno);
        return false;
      }
    }
    buf_.clear();
    pos_ = 0;
    return true;
  }

  void close() {
    if (ssl_ != nullptr) {
      // close_notify without waiting for the peer's; MSG_NOSIGNAL is not
      // available to OpenSSL's socket BIO, so a reset peer would raise
      // SIGPIPE: main() ignores it.
      if (SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
      SSL_free(ssl_);
      ssl_ = nullptr;
      ERR_clear_error();
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send_all(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n;
      if (ssl_ != nullptr) {
        size_t done = 0;
        errno = 0;
        n = SSL_write_ex(ssl_, s.data() + off, s.size() - off, &done) == 1
                ? static_cast<ssize_t>(done)
                : -1;
        if (n <= 0) last_line_ = tls_error("SSL_write", errno);
      } else {
        n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      }
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // One line without CRLF; nullopt on EOF, error or timeout.
  std::optional<std::string> read_line() {
    for (;;) {
      auto it = std::find(buf_.begin() + static_cast<long>(pos_), buf_.end(), '\n');
      if (it != buf_.end()) {
        size_t end = static_cast<size_t>(it - buf_.begin());
        std::string line(buf_.data() + pos_, end - pos_);
        pos_ = end + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        compact();
        last_line_ = line.substr(0, 200);
        return line;
      }
      if (!fill()) return std::nullopt;
    }
  }

  // Skip exactly n bytes (a literal); false on EOF/error.
  bool skip(size_t n) {
    while (n > 0) {
      size_t have = buf_.size() - pos_;
      if (have > 0) {
        size_t take = std::min(have, n);
        pos_ += take;
        n -= take;
        compact();
        continue;
      }
      if (!fill()) return false;
    }
    return true;
  }

  // Read responses until the tagged one; true when it is "TAG OK".
  // literal_bytes counts the bytes of {n} literals seen; lines get the
  // untagged lines (without literal data) when non-null.
  bool until_tagged(const std::string& tag, size_t* literal_bytes = nullptr,
                    std::vector<std::string>* lines = nullptr) {
    const std::string prefix = tag + " ";
    for (;;) {
      auto line = read_line();
      if (!line) return false;
      if (line->compare(0, prefix.size(), prefix) == 0) {
        return line->compare(prefix.size(), 2, "OK") == 0;
      }
      if (lines) lines->push_back(*line);
      // A line ending in {n} announces n bytes of literal, then the line goes on.
      while (!line->empty() && line->back() == '}') {
        auto open = line->rfind('{');
        if (open == std::string::npos) break;
        size_t n = std::strtoul(line->c_str() + open + 1, nullptr, 10);
        if (!skip(n)) return false;
        if (literal_bytes) *literal_bytes += n;
        line = read_line();
        if (!line) return false;
      }
    }
  }

  int fd() const { return fd_; }
  // The negotiated protocol ("TLSv1.3"), or "" without TLS.
  std::string tls_version() const { return ssl_ != nullptr ? SSL_get_version(ssl_) : ""; }
  // The last line read (for error messages), or why reading failed.
  const std::string& last_line() const { return last_line_; }

 private:
  bool fill() {
    char tmp[65536];
    ssize_t n;
    if (ssl_ != nullptr) {
      size_t done = 0;
      errno = 0;
      if (SSL_read_ex(ssl_, tmp, sizeof tmp, &done) == 1) {
        n = static_cast<ssize_t>(done);
      } else if (SSL_get_error(ssl_, 0) == SSL_ERROR_ZERO_RETURN) {
        n = 0;  // close_notify: EOF
      } else {
        last_line_ = tls_error("SSL_read", errno);
        return false;
      }
    } else {
      n = ::recv(fd_, tmp, sizeof tmp, 0);
    }
    if (n <= 0) {
      last_line_ = n == 0 ? "<EOF>" : std::string("<") + std::strerror(errno) + ">";
      return false;
    }
    buf_.insert(buf_.end(), tmp, tmp + n);
    return true;
  }
  void compact() {
    if (pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    } else if (pos_ > 65536) {
      buf_.erase(buf_.begin(), buf_.begin() + static_cast<long>(pos_));
      pos_ = 0;
    }
  }

  int fd_ = -1;
  SSL* ssl_ = nullptr;  // non-null: TLS on fd_
  std::vector<char> buf_;
  size_t pos_ = 0;
  std::string last_line_;
};

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Connect, greeting, LOGIN (timed), SELECT; returns the message count or -1.
long open_session(Conn& c, const Options& o, int user, double* login_ms) {
  const Target& t = o.targets[static_cast<size_t>(user) % o.targets.size()];
  if (!c.connect_to(t, o.io_timeout, o.tls_ctx)) return -1;
  auto greet = c.read_line();
  if (!greet || greet->compare(0, 4, "* OK") != 0) return -1;
  auto t0 = Clock::now();
  if (!c.send_all("a LOGIN " + quote(format_int(o.user_format, user)) + " " +
                  quote(format_int(o.pass_format, user)) + "\r\n"))
    return -1;
  if (!c.until_tagged("a")) return -1;
  if (login_ms)
    *login_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!c.send_all("b SELECT INBOX\r\n")) return -1;
  std::vector<std::string> lines;
  if (!c.until_tagged("b", nullptr, &lines)) return -1;
  for (auto& l : lines) {
    long n = 0;
    char word[16] = {};
    if (std::sscanf(l.c_str(), "* %ld %15s", &n, word) == 2 && std::strcmp(word, "EXISTS") == 0)
      return n;
  }
  return 0;
}

bool logout(Conn& c) {
  bool ok = c.send_all("z LOGOUT\r\n") && c.until_tagged("z");
  c.close();
  return ok;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct Shared {
  std::atomic<long> started{0};
  std::atomic<long> sessions{0};
  std::atomic<long> errors{0};
  std::atomic<long> next_user{0};
  std::atomic<unsigned long long> bytes{0};
  std::atomic<long> fetches{0};
  std::atomic<long> fetch1_bytes{0};
  std::mutex mu;
  std::vector<double> login_ms;
  std::string first_error;
  void error(const std::string& what) {
    errors++;
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.empty()) first_error = what;
  }
};

void login_client(const Options& o, Shared& sh, Clock::time_point deadline) {
  std::vector<double> lat;
  Conn c;
  while (Clock::now() < deadline) {
    if (o.sessions > 0 && sh.started.fetch_add(1) >= o.sessions) break;
    int user = o.user_offset + static_cast<int>(sh.next_user.fetch_add(1) % o.users);
    double ms = 0;
    long exists = open_session(c, o, user, &ms);
    if (exists < 1) {
      sh.error(exists < 0 ? "connect/greeting/LOGIN/SELECT failed: " + c.last_line()
                          : std::string("empty INBOX"));
      c.close();
      continue;
    }
    size_t lit = 0;
    if (!c.send_all("c FETCH 1 (BODY[])\r\n") || !c.until_tagged("c", &lit) || lit == 0) {
      sh.error("FETCH 1 failed: " + c.last_line());
      c.close();
      continue;
    }
    sh.fetch1_bytes.store(static_cast<long>(lit));
    if (!logout(c)) {
      sh.error("LOGOUT failed: " + c.last_line());
      continue;
    }
    lat.push_back(ms);
    sh.sessions++;
  }
  std::lock_guard<std::mutex> lock(sh.mu);
  sh.login_ms.insert(sh.login_ms.end(), lat.begin(), lat.end());
}

// One POP3 reply line; true when it is +OK.
bool pop3_ok(Conn& c) {
  auto line = c.read_line();
  return line && line->compare(0, 3, "+OK") == 0;
}

void pop3_client(const Options& o, Shared& sh, Clock::time_point deadline) {
  std::vector<double> lat;
  Conn c;
  while (Clock::now() < deadline) {
    if (o.sessions > 0 && sh.started.fetch_add(1) >= o.sessions) break;
    int user = o.user_offset + static_cast<int>(sh.next_user.fetch_add(1) % o.users);
    const Target& t = o.targets[static_cast<size_t>(user) % o.targets.size()];
    if (!c.connect_to(t, o.io_timeout, o.tls_ctx) || !pop3_ok(c)) {
      sh.error("pop3: connect/greeting failed: " + c.last_line());
      c.close();
      continue;
    }
    auto t0 = Clock::now();
    if (!c.send_all("USER " + format_int(o.user_format, user) + "\r\n") || !pop3_ok(c) ||
        !c.send_all("PASS " + format_int(o.pass_format, user) + "\r\n") || !pop3_ok(c)) {
      sh.error("pop3: USER/PASS failed: " + c.last_line());
      c.close();
      continue;
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    long count = 0;
    auto stat = c.send_all("STAT\r\n") ? c.read_line() : std::nullopt;
    if (!stat || std::sscanf(stat->c_str(), "+OK %ld", &count) != 1 || count < 1) {
      sh.error("pop3: STAT failed: " + c.last_line());
      c.close();
      continue;
    }
    // RETR 1: +OK, then the message up to a lone ".".
    bool ok = c.send_all("RETR 1\r\n") && pop3_ok(c);
    long bytes = 0;
    while (ok) {
      auto line = c.read_line();
      if (!line) {
        ok = false;
      } else if (*line == ".") {
        break;
      } else {
        bytes += static_cast<long>(line->size()) + 2;
      }
    }
    if (!ok || bytes == 0) {
      sh.error("pop3: RETR 1 failed: " + c.last_line());
      c.close();
      continue;
    }
    sh.fetch1_bytes.store(bytes);
    ok = c.send_all("QUIT\r\n") && pop3_ok(c);
    c.close();
    if (!ok) {
      sh.error("pop3: QUIT failed: " + c.last_line());
      continue;
    }
    lat.push_back(ms);
    sh.sessions++;
  }
  std::lock_guard<std::mutex> lock(sh.mu);
  sh.login_ms.insert(sh.login_ms.end(), lat.begin(), lat.end());
}

void fetch_client(const Options& o, Shared& sh, int index, Clock::time_point deadline) {
  Conn c;
  int user = o.user_offset + index % o.users;
  long exists = open_session(c, o, user, nullptr);
  if (exists < 1) {
    sh.error("fetch: login/select failed");
    return;
  }
  // The largest message's sequence number.
  std::vector<std::string> lines;
  if (!c.send_all("s FETCH 1:* (RFC822.SIZE)\r\n") || !c.until_tagged("s", nullptr, &lines)) {
    sh.error("fetch: RFC822.SIZE failed");
    return;
  }
  long best = 1, best_size = -1;
  for (auto& l : lines) {
    long seq = 0, size = 0;
    auto p = l.find("RFC822.SIZE ");
    if (p == std::string::npos || std::sscanf(l.c_str(), "* %ld", &seq) != 1) continue;
    size = std::strtol(l.c_str() + p + 12, nullptr, 10);
    if (size > best_size) {
      best_size = size;
      best = seq;
    }
  }
  const std::string cmd = "f FETCH " + std::to_string(best) + " (BODY.PEEK[])\r\n";
  while (Clock::now() < deadline) {
    size_t lit = 0;
    if (!c.send_all(cmd) || !c.until_tagged("f", &lit) || lit == 0) {
      sh.error("fetch: FETCH failed");
      return;
    }
    sh.bytes += lit;
    sh.fetches++;
  }
  if (!logout(c)) sh.error("fetch: LOGOUT failed");
}

int run_idle(const Options& o, Shared& sh) {
  std::vector<Conn> conns(static_cast<size_t>(o.clients));
  int nthreads = std::min(o.clients, 16);
  auto t0 = Clock::now();
  auto open_slice = [&](int t) {
    for (int i = t; i < o.clients; i += nthreads) {
      Conn& c = conns[static_cast<size_t>(i)];
      int user = o.user_offset + i % o.users;
      if (open_session(c, o, user, nullptr) < 0 || !c.send_all("i IDLE\r\n")) {
        sh.error("idle: login/select failed: " + c.last_line());
        c.close();
        continue;
      }
      auto l = c.read_line();
      if (!l || l->compare(0, 1, "+") != 0) {
        sh.error("idle: no continuation after IDLE: " + c.last_line());
        c.close();
        continue;
      }
      sh.sessions++;
    }
  };
  {
    std::vector<std::thread> ts;
    for (int t = 0; t < nthreads; ++t) ts.emplace_back(open_slice, t);
    for (auto& t : ts) t.join();
  }
  double setup_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("ESTABLISHED %ld errors %ld\n", sh.sessions.load(), sh.errors.load());
  std::fflush(stdout);
  // Hold until stdin closes (or says anything) or the timeout.
  pollfd p{0, POLLIN, 0};
  auto hold_deadline = Clock::now() + std::chrono::duration<double>(o.timeout);
  while (Clock::now() < hold_deadline) {
    int r = ::poll(&p, 1, 200);
    if (r > 0) break;
  }
  std::string tls;  // the first open connection's protocol
  for (const Conn& c : conns) {
    if (c.fd() >= 0) {
      tls = c.tls_version();
      break;
    }
  }
  auto close_slice = [&](int t) {
    for (int i = t; i < o.clients; i += nthreads) {
      Conn& c = conns[static_cast<size_t>(i)];
      if (c.fd() < 0) continue;
      // Untagged updates may arrive while idling; until_tagged skips them.
      if (!c.send_all("DONE\r\n") || !c.until_tagged("i")) {
        sh.error("idle: DONE failed: " + c.last_line());
        continue;
      }
      if (!logout(c)) sh.error("idle: LOGOUT failed: " + c.last_line());
    }
  };
  {
    std::vector<std::thread> ts;
    for (int t = 0; t < nthreads; ++t) ts.emplace_back(close_slice, t);
    for (auto& t : ts) t.join();
  }
  std::printf(
      "{\"mode\": \"idle\", \"connections\": %ld, \"errors\": %ld, \"setup_s\": %.3f, "
      "\"tls\": %s, \"first_error\": %s}\n",
      sh.sessions.load(), sh.errors.load(), setup_s, quote(tls).c_str(),
      quote(sh.first_error).c_str());
  return sh.errors.load() == 0 ? 0 : 1;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "loadgen: %s\nusage: loadgen login|pop3|fetch|idle --target HOST:PORT [--target ...] "
               "[--clients N] [--duration S] [--sessions M] [--users K] [--user-offset I] "
               "[--user-format FMT] [--pass-format FMT] [--timeout S] [--io-timeout S] [--tls]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) usage("no mode");
  o.mode = argv[1];
  if (o.mode != "login" && o.mode != "pop3" && o.mode != "fetch" && o.mode != "idle") usage("unknown mode");
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tls") {
      o.tls = true;
      continue;
    }
    if (i + 1 >= argc) usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--target") {
      auto colon = v.rfind(':');
      if (colon == std::string::npos) usage("--target wants HOST:PORT");
      o.targets.push_back({v.substr(0, colon), std::atoi(v.c_str() + colon + 1)});
    } else if (a == "--clients") {
      o.clients = std::atoi(v.c_str());
    } else if (a == "--duration") {
      o.duration = std::atof(v.c_str());
    } else if (a == "--sessions") {
      o.sessions = std::atol(v.c_str());
    } else if (a == "--users") {
      o.users = std::atoi(v.c_str());
    } else if (a == "--user-offset") {
      o.user_offset = std::atoi(v.c_str());
    } else if (a == "--user-format") {
      o.user_format = v;
    } else if (a == "--pass-format") {
      o.pass_format = v;
    } else if (a == "--timeout") {
      o.timeout = std::atof(v.c_str());
    } else if (a == "--io-timeout") {
      o.io_timeout = std::atoi(v.c_str());
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (o.targets.empty()) usage("no --target");
  if (o.clients < 1 || o.users < 1 || o.duration <= 0 || o.io_timeout < 1) usage("bad numbers");
  if (o.user_format.find("%d") == std::string::npos ||
      o.pass_format.find("%d") == std::string::npos)
    usage("formats need one %d");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  if (o.tls) {
    std::signal(SIGPIPE, SIG_IGN);  // SSL_write to a closed peer
    o.tls_ctx = make_tls_client();
    if (o.tls_ctx == nullptr) {
      std::fprintf(stderr, "loadgen: %s\n", tls_error("SSL_CTX_new").c_str());
      return 2;
    }
  }
  Shared sh;
  if (o.mode == "idle") return run_idle(o, sh);
  auto t0 = Clock::now();
  auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(o.duration));
  std::vector<std::thread> ts;
  for (int i = 0; i < o.clients; ++i) {
    if (o.mode == "login")
      ts.emplace_back([&] { login_client(o, sh, deadline); });
    else if (o.mode == "pop3")
      ts.emplace_back([&] { pop3_client(o, sh, deadline); });
    else
      ts.emplace_back([&, i] { fetch_client(o, sh, i, deadline); });
  }
  for (auto& t : ts) t.join();
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  if (o.mode == "login" || o.mode == "pop3") {
    double p50 = percentile(sh.login_ms, 0.50), p99 = percentile(sh.login_ms, 0.99);
    std::printf(
        "{\"mode\": \"%s\", \"sessions\": %ld, \"errors\": %ld, \"sessions_per_s\": %.1f, "
        "\"login_p50_ms\": %.3f, \"login_p99_ms\": %.3f, \"fetch1_bytes\": %ld, "
        "\"wall_s\": %.3f, \"first_error\": %s}\n",
        o.mode.c_str(), sh.sessions.load(), sh.errors.load(), static_cast<double>(sh.sessions.load()) / wall, p50,
        p99, sh.fetch1_bytes.load(), wall, quote(sh.first_error).c_str());
  } else {
    double mib = static_cast<double>(sh.bytes.load()) / (1024.0 * 1024.0);
    std::printf(
        "{\"mode\": \"fetch\", \"fetches\": %ld, \"errors\": %ld, \"mib\": %.1f, "
        "\"mib_per_s\": %.1f, \"wall_s\": %.3f, \"first_error\": %s}\n",
        sh.fetches.load(), sh.errors.load(), mib, mib / wall, wall,
        quote(sh.first_error).c_str());
  }
  return sh.errors.load() == 0 ? 0 : 1;
}

#include "lib/route/lookup_http.hpp"

#include "lib/route/lookup_access.hpp"
#include "lib/route/lookup_head.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <sys/socket.h>

namespace zmproxy::route {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = net::asio;
using asio::awaitable;
using net::tcp;

constexpr auto k_idle_timeout = std::chrono::seconds(60);
constexpr std::size_t k_max_header_bytes = 16 * 1024;
constexpr std::size_t k_buffer_start = 2048;

}  // namespace

RequestGate gate_request(std::string_view target,
                         bool is_get,
                         std::string_view given_secret,
                         std::string_view secret) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (!secret.empty() && !same_secret(given_secret, secret)) {
    return RequestGate::forbidden;
  }
  if (path != k_lookup_path) {
    return RequestGate::not_found;
  }
  if (!is_get) {
    return RequestGate::method_not_allowed;
  }
  return RequestGate::lookup;
}

std::string format_reply_head(unsigned version,
                              unsigned status,
                              bool keep_alive,
                              std::string_view auth_lines) {
  const beast::string_view reason = http::obsolete_reason(http::int_to_status(status));
  std::string out = "HTTP/1." + std::to_string(version % 10) + " " + std::to_string(status) + " " +
                    std::string(reason) + "\r\n";
  out += auth_lines;
  out += "Content-Length: 0\r\n";
  out += keep_alive ? (version == 10 ? "Connection: keep-alive\r\n" : "") : "Connection: close\r\n";
  out += "\r\n";
  return out;
}

namespace {

// "HTTP/1.x <status> <reason>\r\n", the Auth-* lines of `answer` (if any),
// the length and the Connection field (format_reply_head's), appended.
void append_reply(std::string& out, unsigned version, RequestGate gate, bool keep_alive,
                  const LookupResponse* answer) {
  out += version % 10 == 0 ? "HTTP/1.0 " : "HTTP/1.";
  if (version % 10 != 0) {
    out += static_cast<char>('0' + version % 10);
    out += ' ';
  }
  switch (gate) {
    case RequestGate::lookup:
      out += "200 OK\r\n";
      break;
    case RequestGate::forbidden:
      out += "403 Forbidden\r\n";
      break;
    case RequestGate::not_found:
      out += "404 Not Found\r\n";
      break;
    case RequestGate::method_not_allowed:
      out += "405 Method Not Allowed\r\n";
      break;
  }
  if (answer != nullptr) {
    append_lookup_response(out, *answer);
  }
  out += "Content-Length: 0\r\n";
  out += keep_alive ? (version == 10 ? "Connection: keep-alive\r\n" : "") : "Connection: close\r\n";
  out += "\r\n";
}

void cancel_socket(void* socket) noexcept {
  boost::system::error_code ignored;
  static_cast<tcp::socket*>(socket)->cancel(ignored);
}

// The connection's deadline, linked for its life and moved forward as each
// request is answered (a clock read, no timer call).
class IdleDeadline {
 public:
  IdleDeadline(net::DeadlineSweeper& sweeper, tcp::socket& socket) {
    m_deadline.target = &socket;
    m_deadline.cancel = &cancel_socket;
    restart();
    sweeper.add(m_deadline);
  }
  ~IdleDeadline() { net::DeadlineSweeper::remove(m_deadline); }
  IdleDeadline(const IdleDeadline&) = delete;
  IdleDeadline& operator=(const IdleDeadline&) = delete;
  void restart() noexcept { m_deadline.at = net::coarse_now() + k_idle_timeout; }
  bool expired() const noexcept { return m_deadline.expired; }

 private:
  net::Deadline m_deadline;
};

// Every byte of `out` sent: at once when the socket takes it (nearly
// always), else through Asio. False when the connection is gone.
awaitable<bool> send_all(tcp::socket& socket, const std::string& out, const IdleDeadline& deadline) {
  const ssize_t n = ::send(socket.native_handle(), out.data(), out.size(), MSG_NOSIGNAL);
  if (n == static_cast<ssize_t>(out.size())) {
    co_return true;
  }
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    co_return false;
  }
  const std::size_t sent = n < 0 ? 0 : static_cast<std::size_t>(n);
  auto [ec, written] = co_await asio::async_write(
      socket, asio::buffer(out.data() + sent, out.size() - sent), net::use_nothrow);
  co_return !ec && !deadline.expired();
}

// What answering the complete requests at the start of a read came to.
struct Answered {
  std::size_t used = 0;  // bytes of the requests answered
  bool close = false;    // end the connection once `out` is sent
  bool wait = false;     // stopped at a lookup answer_later must answer
  std::size_t size = 0;  // (wait) that request's size; `head` is its head
};

// The reply to a request let through to a lookup, appended; counted.
void append_lookup_reply(std::string& out, const RequestHead& head, const LookupResponse& answer,
                         LookupHttpCounters& counters) {
  if (!answer.ok) {
    LookupHttpCounters::count(counters.errors);
  }
  append_reply(out, head.version, RequestGate::lookup, head.keep_alive, &answer);
}

// Answers the complete requests at the start of `in` into `out`, as long as
// each is answered at once. `close` is set when the connection must end
// after `out` is sent (a request that is not HTTP or is too large, a refused
// secret, a request that does not keep the connection).
Answered answer_ready(std::string_view in,
                      std::string& out,
                      RequestHead& head,
                      const std::string& secret,
                      LookupHttpCounters& counters,
                      LookupService& service) {
  Answered a;
  while (!a.close) {
    std::size_t size = 0;
    const HeadParse parsed = parse_request_head(in.substr(a.used), head, size);
    if (parsed == HeadParse::incomplete) {
      a.close = in.size() - a.used >= k_max_header_bytes;
      break;
    }
    if (parsed == HeadParse::invalid || size > k_max_header_bytes) {
      a.close = true;  // not HTTP, or too large: nothing more to say
      break;
    }
    LookupHttpCounters::count(counters.requests);
    const RequestGate gate = gate_request(head.target, head.method == "GET",
                                          head.field(k_secret_header), secret);
    if (gate == RequestGate::lookup) {
      const LookupResponse* answer = service.answer_now(head.fields);
      if (answer == nullptr) {
        a.wait = true;
        a.size = size;
        break;
      }
      append_lookup_reply(out, head, *answer, counters);
      a.close = !head.keep_alive;
    } else {
      if (gate == RequestGate::forbidden) {
        LookupHttpCounters::count(counters.refused);
      }
      const bool keep_alive = head.keep_alive && gate != RequestGate::forbidden;
      append_reply(out, head.version, gate, keep_alive, nullptr);
      a.close = !keep_alive;
    }
    a.used += size;
  }
  return a;
}

// The LookupService over a LookupCall: every lookup awaited.
class CallService final : public LookupService {
 public:
  explicit CallService(LookupCall call) : m_call(std::move(call)) {}
  const LookupResponse* answer_now(const HeaderViews&) override { return nullptr; }
  awaitable<LookupResponse> answer_later(const HeaderViews& fields) override {
    Headers headers;
    for (const auto& [name, value] : fields) {
      headers.emplace_back(std::string(name), std::string(value));
    }
    co_return co_await m_call(std::move(headers));
  }

 private:
  LookupCall m_call;
};

}  // namespace

awaitable<void> serve_lookups(tcp::socket socket,
                              const std::string& secret,
                              LookupHttpCounters& counters,
                              LookupService& service,
                              net::DeadlineSweeper& sweeper) {
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  socket.native_non_blocking(true, ignored);
  IdleDeadline deadline(sweeper, socket);
  // A head is at most k_max_header_bytes; the buffer starts small and grows
  // to twice that (a head and a pipelined next one's start).
  std::unique_ptr<char[]> buffer(new char[k_buffer_start]);
  std::size_t capacity = k_buffer_start;
  std::size_t have = 0;
  std::string out;
  RequestHead head;
  bool wait_first = false;  // a new connection's request may be there already
  while (true) {
    if (wait_first) {
      // (Asio re-arms the socket's registration here, EPOLL_CTL_MOD, which
      // also reports a FIN that came in the same edge as the last bytes.)
      auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, net::use_nothrow);
      if (ec || deadline.expired()) {
        break;
      }
    }
    const ssize_t got = ::recv(socket.native_handle(), buffer.get() + have, capacity - have, 0);
    if (got == 0) {
      break;
    }
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        wait_first = true;
        continue;
      }
      break;
    }
    const auto n = static_cast<std::size_t>(got);
    // Everything there was read unless the buffer filled: then read again
    // before waiting (the next readiness event may not come).
    wait_first = have + n < capacity;
    have += n;
    out.clear();
    const std::string_view in(buffer.get(), have);
    Answered a = answer_ready(in, out, head, secret, counters, service);
    std::size_t used = a.used;
    while (a.wait) {
      const LookupResponse later = co_await service.answer_later(head.fields);
      append_lookup_reply(out, head, later, counters);
      used += a.size;
      if (!head.keep_alive) {
        a = Answered{0, true};
        break;
      }
      a = answer_ready(in.substr(used), out, head, secret, counters, service);
      used += a.used;
    }
    if (!out.empty() && !co_await send_all(socket, out, deadline)) {
      break;
    }
    if (a.close || deadline.expired()) {
      break;
    }
    if (used > 0) {
      std::memmove(buffer.get(), buffer.get() + used, have - used);
      have -= used;
      deadline.restart();
    }
    if (have == capacity) {
      const std::size_t grown = std::min(capacity * 2, 2 * k_max_header_bytes);
      if (grown == capacity) {
        break;
      }
      std::unique_ptr<char[]> bigger(new char[grown]);
      std::memcpy(bigger.get(), buffer.get(), have);
      buffer = std::move(bigger);
      capacity = grown;
      wait_first = false;
    }
  }
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

awaitable<void> serve_lookups(tcp::socket socket,
                              const std::string& secret,
                              LookupHttpCounters& counters,
                              LookupCall lookup) {
  net::DeadlineSweeper sweeper(co_await asio::this_coro::executor);
  CallService service(std::move(lookup));
  co_await serve_lookups(std::move(socket), secret, counters, service, sweeper);
}

awaitable<void> refuse_connection(tcp::socket socket) {
  static constexpr std::string_view k_forbidden =
      "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  [[maybe_unused]] const auto sent = ::send(socket.native_handle(), k_forbidden.data(),
                                            k_forbidden.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  beast::tcp_stream drain(std::move(socket));
  drain.expires_after(std::chrono::seconds(1));
  std::array<char, 4096> sink;
  for (int i = 0; i < 4; ++i) {
    auto [ec, n] = co_await drain.async_read_some(asio::buffer(sink), net::use_nothrow);
    if (ec) {
      break;
    }
  }
}

}  // namespace zmproxy::route

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

// Answers every complete request at the start of `in` into `out`; returns
// how many bytes they took. `close` is set when the connection must end
// after `out` is sent (a request that is not HTTP or is too large, a
// refused secret, a request that does not keep the connection).
awaitable<std::size_t> answer_requests(std::string_view in,
                                       std::string& out,
                                       bool& close,
                                       RequestHead& head,
                                       const std::string& secret,
                                       LookupHttpCounters& counters,
                                       LookupService& service) {
  std::size_t used = 0;
  LookupResponse answer;
  while (!close) {
    std::size_t size = 0;
    const HeadParse parsed = parse_request_head(in.substr(used), head, size);
    if (parsed == HeadParse::incomplete) {
      close = in.size() - used >= k_max_header_bytes;
      break;
    }
    if (parsed == HeadParse::invalid || size > k_max_header_bytes) {
      close = true;  // not HTTP, or too large: nothing more to say
      break;
    }
    used += size;
    ++counters.requests;
    const RequestGate gate = gate_request(head.target, head.method == "GET",
                                          head.field(k_secret_header), secret);
    bool keep_alive = head.keep_alive;
    const LookupResponse* reply = nullptr;
    if (gate == RequestGate::forbidden) {
      ++counters.refused;
      keep_alive = false;
    } else if (gate == RequestGate::lookup) {
      if (!service.answer_now(head.fields, answer)) {
        answer = co_await service.answer_later(head.fields);
      }
      if (!answer.ok) {
        ++counters.errors;
      }
      reply = &answer;
    }
    append_reply(out, head.version, gate, keep_alive, reply);
    close = !keep_alive;
  }
  co_return used;
}

// The LookupService over a LookupCall: every lookup awaited.
class CallService final : public LookupService {
 public:
  explicit CallService(LookupCall call) : m_call(std::move(call)) {}
  bool answer_now(const HeaderViews&, LookupResponse&) override { return false; }
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
      auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, net::use_nothrow);
      if (ec || deadline.expired()) {
        break;
      }
    }
    const ssize_t n = ::recv(socket.native_handle(), buffer.get() + have, capacity - have, 0);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        wait_first = true;
        continue;
      }
      break;
    }
    // Everything there was read unless the buffer filled: then read again
    // before waiting (the next readiness event may not come).
    wait_first = have + static_cast<std::size_t>(n) < capacity;
    have += static_cast<std::size_t>(n);
    out.clear();
    bool close = false;
    const std::size_t used = co_await answer_requests(std::string_view(buffer.get(), have), out, close,
                                                      head, secret, counters, service);
    if (!out.empty() && !co_await send_all(socket, out, deadline)) {
      break;
    }
    if (close || deadline.expired()) {
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

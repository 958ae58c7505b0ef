#pragma once
// zmlookupd's HTTP framing: requests read one after another on a keep-alive
// connection (HTTP/1.0 and 1.1, headers of at most 16 KiB, 60 s for each
// request from the moment the previous one was answered), each let through
// to a lookup or answered 403/404/405 first, and the reply head written with
// the Auth-* lines as they are; and the 403 for a caller refused before a
// byte of its request is read. Include only from .cpp files (it brings Asio).
//
// The hot path makes no allocation and no timer call: the head is parsed in
// place (lookup_head.hpp), the answers to every request of one read go out
// in one send, the connection waits for readability before it reads (no
// read that would find nothing), and its deadline is a coarse one in the
// server's DeadlineSweeper (lib/net/deadline.hpp), moved by one clock read.

#include "lib/net/asio.hpp"
#include "lib/net/deadline.hpp"
#include "lib/route/lookup_protocol.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace zmproxy::route {

// What a request gets before any lookup, in this order: a wrong or missing
// caller secret (when one is set) 403, another path than k_lookup_path 404,
// another method than GET 405; else the lookup.
enum class RequestGate { lookup, forbidden, not_found, method_not_allowed };
RequestGate gate_request(std::string_view target,
                         bool is_get,
                         std::string_view given_secret,
                         std::string_view secret);

// "HTTP/1.x <status> <reason>", the Auth-* lines, "Content-Length: 0", the
// Connection field when it is not the version's default, and the blank line.
std::string format_reply_head(unsigned version,
                              unsigned status,
                              bool keep_alive,
                              std::string_view auth_lines);

// What the HTTP side counts (zmlookupd's STATS). Written by the I/O thread
// only (count(): a load and a store, no locked instruction), read by anyone.
struct LookupHttpCounters {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> errors{0};   // lookups answered with an error status
  std::atomic<std::uint64_t> refused{0};  // callers refused (address or secret)

  static void count(std::atomic<std::uint64_t>& n) noexcept {
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
};

// What a connection asks of its server: the answer to a lookup, given at
// once when it needs no waiting (nearly always), else awaited.
class LookupService {
 public:
  virtual ~LookupService() = default;
  // The answer, valid until the next call (the service reuses it); nullptr
  // when answer_later must be awaited.
  virtual const LookupResponse* answer_now(const HeaderViews& fields) = 0;
  virtual net::asio::awaitable<LookupResponse> answer_later(const HeaderViews& fields) = 0;
};

// Serve requests on `socket` until the caller closes, idles out, sends what
// is not HTTP, or is refused. `secret`, `counters`, `service` and `sweeper`
// (bound to the socket's io_context) outlive the connection.
net::asio::awaitable<void> serve_lookups(net::tcp::socket socket,
                                         const std::string& secret,
                                         LookupHttpCounters& counters,
                                         LookupService& service,
                                         net::DeadlineSweeper& sweeper);

// The same with every lookup awaited through `lookup`, and a sweeper of the
// connection's own (tests and test handlers).
using LookupCall = std::function<net::asio::awaitable<LookupResponse>(Headers)>;
net::asio::awaitable<void> serve_lookups(net::tcp::socket socket,
                                         const std::string& secret,
                                         LookupHttpCounters& counters,
                                         LookupCall lookup);

// A caller refused by address: 403 without reading its request, then what it
// sent already discarded unread (at most 16 KiB within 1 s), so that closing
// does not reset the connection before the 403 arrives.
net::asio::awaitable<void> refuse_connection(net::tcp::socket socket);

}  // namespace zmproxy::route

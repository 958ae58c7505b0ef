#pragma once
// Kept-alive connections to the mailbox web servers, per worker thread
// (nginx's upstream `keepalive`). A connection is given back only after a
// whole exchange (request sent, response read to its end, no upgrade) with
// nothing left unread; it is taken only if it is still open and silent: a
// non-blocking peek at the socket finds neither the server's close (EOF, a
// reset, a TLS close_notify) nor bytes nobody asked for. A server that
// closes idle keep-alive connections between requests (or restarts) thus
// costs a fresh connection, never a request lost on a dead one.

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>

#include "lib/net/asio.hpp"
#include "lib/net/tls_stream.hpp"

namespace zmproxy::proxy::http {

// A kept-alive connection to a mailbox web server.
struct UpstreamConn {
  std::variant<std::unique_ptr<net::tcp::socket>, std::unique_ptr<net::TlsStream>> stream;
  boost::beast::flat_buffer buffer;  // bytes read past the last response
  std::chrono::steady_clock::time_point idle_since;  // set by UpstreamPool::give
};

// Open, with nothing read past the last response (in `buffer` or in the TLS
// engine)? No system call.
bool nothing_read_ahead(UpstreamConn& c);

// That, and the socket has neither the server's close nor unread bytes
// waiting (a non-blocking MSG_PEEK). Never blocks.
bool idle_connection_usable(UpstreamConn& c);

// That, known without a system call: a plain socket marked drained by the
// read that ended its last answer, with no readiness event since (no byte,
// FIN or reset came: lib/net/edge_flag.hpp). false when unknown.
bool idle_connection_quiet(UpstreamConn& c);

class UpstreamPool {
 public:
  // Idle connections kept per mailbox web server and worker: as many as the
  // busiest moment needed, up to this.
  static constexpr std::size_t k_idle_per_upstream = 128;
  // How long an idle connection is kept (nginx's upstream keepalive_timeout
  // default): a server's own idle timeout is the likeliest moment for it to
  // close one, and a close racing the next request costs that request.
  static constexpr std::chrono::seconds k_idle_max{60};

  // A usable idle connection to `key`, or null; the dead and the too old
  // met on the way are closed. `now`: the caller's clock (coarse is fine).
  // `trust_quiet`: a quiet connection (idle_connection_quiet) is taken
  // without the peek, for a request that may go again on a fresh connection
  // if this one turns out closed (one with no body): the one close the
  // reactor cannot tell, a FIN in the same segment as the last answer's
  // end, then costs a retry, never the request.
  std::unique_ptr<UpstreamConn> take(const std::string& key, std::chrono::steady_clock::time_point now,
                                     bool trust_quiet = false);
  // Keeps `c` for the next request to `key` (if nothing was read ahead and
  // there is room); the oldest idle ones past k_idle_max are closed.
  void give(const std::string& key, std::unique_ptr<UpstreamConn> c, std::chrono::steady_clock::time_point now);
  std::size_t idle_count(const std::string& key) const;

  static UpstreamPool& of_this_thread();

 private:
  std::map<std::string, std::vector<std::unique_ptr<UpstreamConn>>> m_idle;
};

}  // namespace zmproxy::proxy::http

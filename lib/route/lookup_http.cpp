#include "lib/route/lookup_http.hpp"

#include "lib/route/lookup_access.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <chrono>
#include <sys/socket.h>

namespace zmproxy::route {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = net::asio;
using asio::awaitable;
using net::tcp;

constexpr auto k_idle_timeout = std::chrono::seconds(60);
constexpr std::uint32_t k_max_header_bytes = 16 * 1024;

http::status gate_status(RequestGate gate) {
  switch (gate) {
    case RequestGate::forbidden:
      return http::status::forbidden;
    case RequestGate::not_found:
      return http::status::not_found;
    case RequestGate::method_not_allowed:
      return http::status::method_not_allowed;
    case RequestGate::lookup:
      break;
  }
  return http::status::ok;
}

Headers request_headers(const http::request<http::empty_body>& req) {
  Headers headers;
  for (const auto& f : req) {
    headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  return headers;
}

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

awaitable<void> serve_lookups(tcp::socket socket,
                              const std::string& secret,
                              LookupHttpCounters& counters,
                              LookupCall lookup) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  boost::system::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  while (true) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(k_max_header_bytes);
    stream.expires_after(k_idle_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, net::use_nothrow);
    if (ec) {
      break;  // closed, timed out or malformed: nothing more to say
    }
    auto req = parser.release();
    ++counters.requests;
    const std::string_view target(req.target().data(), req.target().size());
    const auto given = req[beast::string_view(k_secret_header.data(), k_secret_header.size())];
    const RequestGate gate = gate_request(target, req.method() == http::verb::get,
                                          std::string_view(given.data(), given.size()), secret);
    bool keep_alive = req.keep_alive();
    std::string auth_lines;
    if (gate == RequestGate::forbidden) {
      ++counters.refused;
      keep_alive = false;
    } else if (gate == RequestGate::lookup) {
      const LookupResponse r = co_await lookup(request_headers(req));
      if (!r.ok) {
        ++counters.errors;
      }
      auth_lines = format_lookup_response(r);
    }
    const std::string head = format_reply_head(
        req.version(), static_cast<unsigned>(gate_status(gate)), keep_alive, auth_lines);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(head), net::use_nothrow);
    if (wec || !keep_alive) {
      break;
    }
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
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

#include "lib/net/control_endpoint.hpp"

#include "lib/core/address.hpp"
#include "lib/log/logger.hpp"
#include "lib/net/accept_backoff.hpp"
#include "lib/net/control_proof.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace zmproxy::net {

namespace {

using namespace asio::experimental::awaitable_operators;

// Refusals logged: at most this many a minute, the rest counted in one line.
constexpr int k_refusals_logged_per_minute = 20;

}  // namespace

struct ControlEndpoint::Impl {
  ControlEndpointOptions options;
  ControlEndpointHandler handler;
  tcp::acceptor acceptor;
  std::string address;
  int active = 0;
  bool at_cap_logged = false;
  std::chrono::steady_clock::time_point refusal_window{};
  int refusals_in_window = 0;

  Impl(asio::io_context& io, ControlEndpointOptions o, ControlEndpointHandler h)
      : options(std::move(o)), handler(std::move(h)), acceptor(io) {}

  void refused(const std::string& peer, std::string_view why) {
    const auto now = std::chrono::steady_clock::now();
    if (now - refusal_window >= std::chrono::minutes(1)) {
      if (refusals_in_window > k_refusals_logged_per_minute) {
        ZMPROXY_LOG(warn, options.component, "control endpoint {}: {} more refusals not logged",
                    address, refusals_in_window - k_refusals_logged_per_minute);
      }
      refusal_window = now;
      refusals_in_window = 0;
    }
    if (++refusals_in_window <= k_refusals_logged_per_minute) {
      ZMPROXY_LOG(warn, options.component, "control endpoint {}: {} refused: {}", address, peer,
                  why);
    }
  }

  struct Slot {
    Impl& impl;
    explicit Slot(Impl& i) : impl(i) { ++impl.active; }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { --impl.active; }
  };

  // Write `text` within `limit`; false when it could not.
  static asio::awaitable<bool> write_within(tcp::socket& socket,
                                            const std::string& text,
                                            std::chrono::milliseconds limit) {
    asio::steady_timer timer(socket.get_executor());
    timer.expires_after(limit);
    auto r = co_await (asio::async_write(socket, asio::buffer(text), use_nothrow) ||
                       timer.async_wait(use_nothrow));
    co_return r.index() == 0 && !std::get<0>(std::get<0>(r));
  }

  static asio::awaitable<boost::system::error_code> greet_and_read(tcp::socket& socket,
                                                                   const std::string& greeting,
                                                                   std::string& line,
                                                                   std::size_t line_max) {
    auto [wec, written] = co_await asio::async_write(socket, asio::buffer(greeting), use_nothrow);
    if (wec) {
      co_return wec;
    }
    auto [rec, read] = co_await asio::async_read_until(socket, asio::dynamic_buffer(line, line_max),
                                                       '\n', use_nothrow);
    co_return rec;
  }

  // The greeting, then the client's line within the read deadline, bounded
  // by line_max. nullopt (and the reason in `why`) when none came whole.
  static asio::awaitable<std::optional<std::string>> read_answer(Impl& self,
                                                                 tcp::socket& socket,
                                                                 const std::string& nonce,
                                                                 std::string& why) {
    asio::steady_timer timer(socket.get_executor());
    timer.expires_after(self.options.read_deadline);
    const std::string greeting = std::string(k_control_greeting) + nonce + "\n";
    std::string line;
    auto r = co_await (greet_and_read(socket, greeting, line, self.options.line_max) ||
                       timer.async_wait(use_nothrow));
    if (r.index() != 0) {
      why = "no command within " + std::to_string(self.options.read_deadline.count()) + " ms";
      co_return std::nullopt;
    }
    if (const auto ec = std::get<0>(r); ec) {
      why = ec == asio::error::not_found
                ? "a line over " + std::to_string(self.options.line_max) + " bytes"
                : std::string();  // closed by the peer: nothing to say
      co_return std::nullopt;
    }
    line.resize(line.find('\n'));
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    co_return line;
  }

  static asio::awaitable<void> session(std::shared_ptr<Impl> self,
                                       tcp::socket socket,
                                       std::string peer) {
    Slot slot(*self);
    const std::string nonce = make_control_nonce();
    if (nonce.empty()) {
      self->refused(peer, "no random nonce (OpenSSL's generator failed)");
      co_return;
    }
    std::string why;
    const auto line = co_await read_answer(*self, socket, nonce, why);
    if (!line) {
      if (!why.empty()) {
        self->refused(peer, why);
      }
      co_return;
    }
    const auto answer = split_control_answer(*line);
    if (!answer ||
        !control_proof_matches(answer->proof, self->options.secret, nonce, answer->command)) {
      // One line, the same for a missing, malformed or wrong proof.
      self->refused(peer,
                    "wrong proof (the secret differs, or the line is not a proof and a command)");
      co_await write_within(socket, "ERROR not authenticated\n", self->options.write_deadline);
      co_return;
    }
    const std::string command(answer->command);
    if (self->options.allows == nullptr || !self->options.allows(command)) {
      self->refused(peer, "a command not on the allowlist");
      co_await write_within(
          socket, "ERROR not allowed over TCP; expected " + self->options.allowed_text + "\n",
          self->options.write_deadline);
      co_return;
    }
    const std::string verb = command.substr(0, command.find(' '));
    ZMPROXY_LOG(info, self->options.component, "control endpoint {}: {} from {}", self->address,
                verb, peer);
    std::string reply = co_await self->handler(command);
    reply += '\n';
    co_await write_within(socket, reply, self->options.write_deadline);
  }

  static asio::awaitable<void> serve(std::shared_ptr<Impl> self) {
    AcceptBackoff backoff;
    while (true) {
      auto [ec, socket] = co_await self->acceptor.async_accept(use_nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) {
          co_return;
        }
        asio::steady_timer pause(self->acceptor.get_executor());
        pause.expires_after(backoff.after_failure(ec.value()));
        co_await pause.async_wait(use_nothrow);
        continue;
      }
      backoff.after_success();
      boost::system::error_code pec;
      const auto remote = socket.remote_endpoint(pec);
      const std::string peer =
          pec ? std::string("?")
              : core::format_address(unmapped(remote.address()).to_string(), remote.port());
      if (self->active >= self->options.max_connections) {
        // Closed unanswered: the cap is for admins' tools, never a queue.
        if (!self->at_cap_logged) {
          self->at_cap_logged = true;
          ZMPROXY_LOG(warn, self->options.component,
                      "control endpoint {}: {} connections open, the most it serves; closing new "
                      "ones until one ends",
                      self->address, self->active);
        }
        continue;
      }
      self->at_cap_logged = false;
      asio::co_spawn(self->acceptor.get_executor(), session(self, std::move(socket), peer),
                     asio::detached);
    }
  }
};

ControlEndpoint::ControlEndpoint(std::shared_ptr<Impl> impl) : m_impl(std::move(impl)) {}

ControlEndpoint::~ControlEndpoint() {
  boost::system::error_code ignored;
  m_impl->acceptor.close(ignored);
}

const std::string& ControlEndpoint::address() const noexcept {
  return m_impl->address;
}

Result<std::unique_ptr<ControlEndpoint>> ControlEndpoint::open(asio::io_context& io,
                                                               ControlEndpointOptions options,
                                                               ControlEndpointHandler handler) {
  const std::string where = "the control endpoint on " + options.listen;
  if (options.secret.empty()) {
    return fail(Errc::invalid_argument,
                where +
                    " is not started: no secret; set one on every node "
                    "(zmlocalconfig -e zmproxy_control_secret=$(openssl rand -hex 24))");
  }
  if (options.secret.size() < k_control_secret_min) {
    return fail(Errc::invalid_argument,
                where + " is not started: zmproxy_control_secret has fewer than " +
                    std::to_string(k_control_secret_min) +
                    " bytes; set a longer one on every node (zmlocalconfig -e "
                    "zmproxy_control_secret=$(openssl rand -hex 24))");
  }
  const core::ParsedAddress parsed =
      core::parse_address(options.listen, {std::nullopt, true, false});
  if (!parsed) {
    return fail(Errc::invalid_argument, where + " is not started: " + parsed.error);
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(parsed->host, ec);
  if (ec) {
    return fail(Errc::invalid_argument,
                where + " is not started: '" + parsed->host +
                    "' is not an IP address (localconfig zmproxy_control_bind_address)");
  }
  auto impl = std::make_shared<Impl>(io, std::move(options), std::move(handler));
  const tcp::endpoint endpoint(address, parsed->port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    impl->acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    impl->acceptor.listen(16, ec);
  }
  if (ec) {
    return fail(Errc::io_error, where + " is not started: " + ec.message() +
                                    "; choose another port for this server's entry");
  }
  const auto bound = impl->acceptor.local_endpoint(ec);
  impl->address = core::format_address(bound.address().to_string(), bound.port());
  asio::co_spawn(io, Impl::serve(impl), asio::detached);
  return std::unique_ptr<ControlEndpoint>(new ControlEndpoint(std::move(impl)));
}

}  // namespace zmproxy::net

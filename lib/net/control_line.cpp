#include "lib/net/control_line.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/net/accept_backoff.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace zmproxy::net {

Result<local::acceptor> open_control_acceptor(asio::io_context& io,
                                              const std::filesystem::path& path) {
  if (path.string().size() >= sizeof(sockaddr_un{}.sun_path)) {
    return fail(Errc::invalid_argument,
                "control socket path " + path.string() +
                    " is too long for a Unix socket; use a shorter home directory");
  }
  std::error_code fec;
  std::filesystem::create_directories(path.parent_path(), fec);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail(Errc::invalid_argument, "control socket path " + path.string() +
                                              " exists and is not a socket; remove it");
    }
    ::unlink(path.c_str());
  }
  local::acceptor acceptor(io);
  boost::system::error_code ec;
  const mode_t old_mask = ::umask(077);
  acceptor.open(local(), ec);
  if (!ec) {
    acceptor.bind(local::endpoint(path.string()), ec);
  }
  ::umask(old_mask);
  if (!ec && ::chmod(path.c_str(), 0600) != 0) {
    ec = boost::system::error_code(errno, boost::system::system_category());
  }
  if (!ec) {
    acceptor.listen(16, ec);
  }
  if (ec) {
    return fail(Errc::io_error, "cannot open control socket " + path.string() + ": " + ec.message());
  }
  return acceptor;
}

bool peer_may_control(const local::socket& socket) noexcept {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(const_cast<local::socket&>(socket).native_handle(), SOL_SOCKET, SO_PEERCRED,
                   &cred, &len) != 0) {
    return false;
  }
  return cred.uid == 0 || cred.uid == ::geteuid();
}

asio::awaitable<std::optional<std::string>> read_control_line(local::socket& socket) {
  using namespace asio::experimental::awaitable_operators;
  std::string line;
  asio::steady_timer deadline(socket.get_executor());
  deadline.expires_after(k_control_read_deadline);
  auto result = co_await (asio::async_read_until(socket, asio::dynamic_buffer(line, k_control_line_max),
                                                 '\n', use_nothrow) ||
                          deadline.async_wait(use_nothrow));
  if (result.index() != 0 || std::get<0>(std::get<0>(result))) {
    co_return std::nullopt;
  }
  line.resize(line.find('\n'));
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  co_return line;
}

asio::awaitable<std::optional<local::socket>> accept_controller(local::acceptor& acceptor) {
  AcceptBackoff backoff;
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        co_return std::nullopt;
      }
      asio::steady_timer pause(acceptor.get_executor());
      pause.expires_after(backoff.after_failure(ec.value()));
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    backoff.after_success();
    if (!peer_may_control(socket)) {
      continue;  // closed at once: not root, not us
    }
    co_return std::move(socket);
  }
}

}  // namespace zmproxy::net

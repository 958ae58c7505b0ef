#include "lib/ctl/route_forget.hpp"

#include "lib/core/pid_file.hpp"
#include "lib/net/control_socket.hpp"
#include "lib/route/forget_command.hpp"

#include <charconv>
#include <chrono>
#include <ostream>
#include <utility>

namespace zmproxy::ctl {

namespace {

// "forgot N" -> N (0 when it is not that).
std::size_t forgot_count(std::string_view text) {
  constexpr std::string_view k_forgot = "forgot ";
  std::size_t n = 0;
  if (text.starts_with(k_forgot)) {
    text.remove_prefix(k_forgot.size());
    std::from_chars(text.data(), text.data() + text.size(), n);
  }
  return n;
}

}  // namespace

int proxy_forget(const core::HomePaths& home, const std::vector<std::string>& names, bool all, std::ostream& out,
                 std::ostream& err) {
  if (all == !names.empty()) {
    err << "zmproxyctl: forget takes account names or --all; see 'zmproxyctl --help'\n";
    return 1;
  }
  for (const std::string& name : names) {
    if (!route::is_forgettable_name(name)) {
      err << "zmproxyctl: not an account name: '" << name.substr(0, 64)
          << "' (1 to 256 bytes, no space or control byte, at most one '@' between two parts)\n";
      return 1;
    }
  }
  if (!core::running_pid(home.run() / "zmproxyd.pid")) {
    out << "proxy is not running.\n";
    return 1;
  }
  std::vector<std::string> commands;
  if (all) {
    commands.emplace_back("FORGET ALL");
  }
  // 100 names a command, and a command within the control socket's line
  // of 4 KiB.
  constexpr std::size_t k_max_line = 4000;
  std::string command;
  std::size_t in_command = 0;
  for (const std::string& name : names) {
    if (in_command == route::k_max_forget_names || command.size() + 1 + name.size() > k_max_line) {
      commands.push_back(std::exchange(command, {}));
      in_command = 0;
    }
    command.append(command.empty() ? "FORGET " : " ").append(name);
    ++in_command;
  }
  if (!command.empty()) {
    commands.push_back(std::move(command));
  }
  std::size_t forgot = 0;
  for (const std::string& line : commands) {
    auto reply = net::control_command(home.run() / "zmproxyd.sock", line, std::chrono::seconds(10));
    if (!reply || !reply->ok) {
      err << "zmproxyctl: " << (reply ? reply->text : reply.error().message) << "\n";
      return 1;
    }
    forgot += forgot_count(reply->text);
  }
  out << "forgot " << forgot << " in-process routes\n";
  return 0;
}

}  // namespace zmproxy::ctl

#include "lib/ctl/proxy_control.hpp"
#include "lib/ctl/status_text.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "lib/confgen/confgen.hpp"
#include "lib/confgen/secret_variables.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/core/json.hpp"
#include "lib/core/pid_file.hpp"
#include "lib/core/strings.hpp"
#include "lib/localconfig/keys.hpp"
#include "lib/schema/registry.hpp"
#include "lib/config/proxy_config.hpp"
#include "lib/net/control_socket.hpp"
#include "lib/server/generation.hpp"

#include <ostream>
#include <sys/wait.h>
#include <thread>

namespace zmproxy::ctl {

namespace {

using namespace std::chrono_literals;

std::filesystem::path socket_path(const core::HomePaths& home) {
  return home.run() / "zmproxyd.sock";
}

std::string last_line(const std::filesystem::path& file) {
  auto text = core::read_file(file);
  if (!text) {
    return "";
  }
  std::string_view t = *text;
  while (!t.empty() && t.back() == '\n') {
    t.remove_suffix(1);
  }
  const auto nl = t.rfind('\n');
  return std::string(nl == std::string_view::npos ? t : t.substr(nl + 1));
}

// Render and install the configuration; prints what happened. "" = fine.
std::string regenerate(const ControlOptions& o,
                       bool force,
                       std::ostream& err,
                       confgen::Outcome* outcome = nullptr,
                       std::string* detail = nullptr) {
  auto rendered = confgen::generate(o.home, o.server);
  if (!rendered) {
    return rendered.error().message;
  }
  for (const std::string& note : rendered->collected.notes) {
    err << "zmproxyctl: note: " << note << "\n";
  }
  auto installed = confgen::install(*rendered, o.home, force);
  if (!installed) {
    confgen::record_outcome(o.home, "zmproxyctl", "refused", installed.error().message);
    return installed.error().message;
  }
  if (installed->outcome != confgen::Outcome::unchanged) {
    confgen::record_outcome(
        o.home, "zmproxyctl",
        installed->outcome == confgen::Outcome::reloaded ? "reloaded" : "written",
        installed->message);
  }
  if (outcome) {
    *outcome = installed->outcome;
  }
  if (detail) {
    *detail = installed->message;
  }
  return "";
}

}  // namespace

std::optional<long> running_pid(const core::HomePaths& home) {
  return core::running_pid(home.run() / "zmproxyd.pid");
}

int proxy_start(const ControlOptions& o, std::ostream& out, std::ostream& err) {
  if (running_pid(o.home)) {
    out << "proxy is already running.\n";
    return 0;
  }
  out << "Starting proxy..." << std::flush;
  if (o.genconf) {
    if (std::string why = regenerate(o, false, err); !why.empty()) {
      // The store may be down: an existing configuration still starts the
      // proxy (Zimbra refuses here; admins suffer for it).
      if (!std::filesystem::exists(o.home.conf() / "zmproxy.conf")) {
        out << "failed.\n";
        err << "zmproxyctl: cannot start: " << why << "\n";
        return 1;
      }
      err << "\nzmproxyctl: warning: configuration not regenerated (" << why
          << "); starting with the existing conf/zmproxy.conf\n";
    }
  }
  auto config = config::load_config(o.home.conf() / "zmproxy.conf", o.home.home);
  Result<void> ok = config ? server::check_tls(**config) : tl::unexpected(config.error());
  if (ok) {
    ok = server::check_ports_free(**config, {});
  }
  if (!ok) {
    out << "failed.\n";
    err << "zmproxyctl: cannot start: " << ok.error().message << "\n";
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(o.home.log(), ec);
  std::filesystem::create_directories(o.home.run(), ec);
  const std::string log_file = (o.home.log() / "zmproxyd.log").string();
  const std::string daemon = o.daemon.string();
  const std::string home_arg = o.home.home.string();
  const pid_t child = ::fork();
  if (child < 0) {
    out << "failed.\n";
    err << "zmproxyctl: cannot start zmproxyd: fork failed\n";
    return 1;
  }
  if (child == 0) {
    ::setsid();
    const int in = ::open("/dev/null", O_RDONLY);
    const int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0640);
    if (in >= 0)
      ::dup2(in, 0);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    ::execl(daemon.c_str(), daemon.c_str(), "--home", home_arg.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Ready when the control socket answers; up to 30 s as Zimbra's.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == child) {
      out << "failed.\n";
      err << "zmproxyctl: zmproxyd exited: " << last_line(log_file) << " (see " << log_file
          << ")\n";
      return 1;
    }
    auto reply = net::control_command(socket_path(o.home), "STATUS", 1s);
    if (reply && reply->json) {
      out << "done.\n";
      return 0;
    }
    std::this_thread::sleep_for(50ms);
  }
  out << "failed.\n";
  err << "zmproxyctl: zmproxyd did not answer within 30 s (see " << log_file << ")\n";
  return 1;
}

int proxy_stop(const ControlOptions& o, std::ostream& out, std::ostream& err) {
  const auto pid = running_pid(o.home);
  if (!pid) {
    out << "proxy is not running.\n";
    return 0;
  }
  out << "Stopping proxy..." << std::flush;
  std::string command = "STOP";
  double wait_s = 10;
  if (o.grace) {
    command += " " + std::to_string(*o.grace);
    wait_s = *o.grace;
  } else if (auto config = config::load_config(o.home.conf() / "zmproxy.conf", o.home.home)) {
    wait_s = static_cast<double>((*config)->server.drain_timeout.count()) / 1000.0;
  }
  auto reply = net::control_command(socket_path(o.home), command, 5s);
  if (!reply || !reply->ok) {
    ::kill(static_cast<pid_t>(*pid), SIGTERM);
  }
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<long>(wait_s * 1000)) + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(static_cast<pid_t>(*pid), 0) != 0) {
      out << "done.\n";
      return 0;
    }
    std::this_thread::sleep_for(20ms);
  }
  out << "failed.\n";
  err << "zmproxyctl: zmproxyd (pid " << *pid << ") is still running; stop it with kill " << *pid
      << "\n";
  return 1;
}

int proxy_reload(const ControlOptions& o, std::ostream& out, std::ostream& err) {
  if (!running_pid(o.home)) {
    out << "proxy is not running.\n";
    return 1;
  }
  out << "Reloading proxy..." << std::flush;
  std::string detail;
  if (o.genconf) {
    confgen::Outcome outcome = confgen::Outcome::unchanged;
    if (std::string why = regenerate(o, true, err, &outcome, &detail); !why.empty()) {
      out << "failed.\n";
      err << "zmproxyctl: " << why << "\n";
      return 1;
    }
  } else {
    auto r = confgen::reload_proxy(o.home);
    if (!r) {
      out << "failed.\n";
      err << "zmproxyctl: " << r.error().message << "\n";
      return 1;
    }
    detail = *r;
  }
  out << "done (" << detail << ").\n";
  return 0;
}

int proxy_status(const ControlOptions& o, std::ostream& out, std::ostream& err) {
  const auto pid = running_pid(o.home);
  if (!pid) {
    out << (o.json ? "{\"running\":false}\n" : "proxy is not running.\n");
    return 1;
  }
  auto reply = net::control_command(socket_path(o.home), "STATUS", 5s);
  if (!reply || !reply->json) {
    // Alive (it holds its pid file) but busy or wedged: say so, never "not
    // running", or a monitor would start a second one.
    const std::string why = reply ? reply->text : reply.error().message;
    if (o.json) {
      out << "{\"running\":true,\"pid\":" << *pid << ",\"answering\":false,\"error\":" << core::json_quote(why)
          << "}\n";
    } else {
      out << "proxy is running.\n";
      err << "zmproxyctl: zmproxyd (pid " << *pid << ") does not answer on " << socket_path(o.home).string() << ": "
          << why << "\n";
    }
    return 0;
  }
  std::string j = reply->text;
  // zmconfigd's last decision: a change it refused never reached zmproxyd.
  std::string watcher;
  if (auto state = core::read_file(o.home.run() / "confgen.state")) {
    watcher = std::string(core::trim(*state));
  }
  if (o.json) {
    if (!watcher.empty() && j.back() == '}') {
      j.pop_back();
      j += ",\"last_change\":" + watcher + "}";
    }
    out << j << "\n";
    return 0;
  }
  out << status_text(j, watcher);
  return 0;
}

int proxy_genconf(const ControlOptions& o, std::ostream& out, std::ostream& err) {
  auto rendered = confgen::generate(o.home, o.server);
  if (!rendered) {
    err << "zmproxyctl: " << rendered.error().message << "\n";
    return 1;
  }
  for (const std::string& note : rendered->collected.notes) {
    err << "zmproxyctl: note: " << note << "\n";
  }
  if (o.print_variables) {
    for (const auto& [name, v] : confgen::masked_variables(rendered->collected.vars)) {
      out << name << " = " << v.text << "  # " << v.source << "\n";
    }
    return 0;
  }
  if (o.dry_run) {
    if (auto ok = confgen::validate(*rendered, o.home); !ok) {
      err << "zmproxyctl: " << ok.error().message << "\n";
      out << rendered->masked_text;
      return 1;
    }
    // Secrets masked: a dry run's output goes to terminals, logs and tickets.
    out << rendered->masked_text;
    return 0;
  }
  auto installed = confgen::install(*rendered, o.home, false);
  if (!installed) {
    err << "zmproxyctl: " << installed.error().message << "\n";
    return 1;
  }
  out << installed->message << "\n";
  return 0;
}

}  // namespace zmproxy::ctl

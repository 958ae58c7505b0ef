// zmprov: Zimbra's provisioning tool over zmproxy's store. Option parsing
// only; the commands are zmproxy::provisioning::ProvShell. Exit codes are
// Zimbra's: 0 ok, 1 usage, 2 service error.

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "lib/core/home.hpp"
#include "lib/core/password_prompt.hpp"
#include "lib/core/strings.hpp"
#include "lib/core/version.hpp"
#include "lib/ctl/fleet_control.hpp"
#include "lib/localconfig/localconfig.hpp"
#include "lib/log/audit_log.hpp"
#include "lib/provisioning/file_store.hpp"
#include "lib/provisioning/open_store.hpp"
#include "lib/provisioning/prov_shell.hpp"
#include "lib/schema/registry.hpp"
#include "lib/net/control_socket.hpp"

namespace {

using namespace zmproxy;

constexpr const char* k_usage =
    "usage: zmprov [options] [cmd [args ...]]\n\n"
    "  -h, --help       print this help, then the command list with 'zmprov help'\n"
    "  -f, --file FILE  run the commands in FILE, one a line\n"
    "  -r, --replace    allow replacing safeguarded multi-valued attributes\n"
    "  -l, --ldap       accepted for compatibility (zmprov always talks to the store)\n"
    "  -m, --master     accepted for compatibility\n"
    "  -v, --verbose    accepted for compatibility\n"
    "      --json       print results as JSON\n"
    "      --home DIR   runtime home (default: $ZMPROXY_HOME, else /opt/zmproxy)\n"
    "      --version    print the version\n\n"
    "Without a command, commands are read from standard input (with a prov> prompt\n"
    "on a terminal). A password given as - (ca, sp) is read from the terminal without\n"
    "echo, or as one line of standard input, so that ps does not show it. See zmprov(1).\n";

// Candidates for `zmprov __complete words...` (the last word is partial).
std::vector<std::string> complete(const std::vector<std::string>& words) {
  std::vector<std::string> out;
  const std::string cur = words.empty() ? "" : words.back();
  // Skip global options to find the command.
  std::size_t i = 0;
  while (i + 1 < words.size() && words[i].rfind('-', 0) == 0) {
    if (words[i] == "-f" || words[i] == "--file" || words[i] == "--home") {
      ++i;
    }
    ++i;
  }
  auto add_if = [&](std::string c) {
    if (c.rfind(cur, 0) == 0) {
      out.push_back(std::move(c));
    }
  };
  if (i + 1 == words.size()) {
    if (cur.rfind('-', 0) == 0) {
      for (const char* o : {"-h", "--help", "-f", "--file", "-r", "--replace", "-l", "--ldap", "-m",
                            "--master", "-v", "--verbose", "--json", "--home", "--version"}) {
        add_if(o);
      }
      return out;
    }
    for (const auto& c : provisioning::prov_commands()) {
      add_if(std::string(c.name));
      add_if(std::string(c.alias));
    }
    return out;
  }
  const auto* cmd = provisioning::find_prov_command(words[i]);
  if (cmd == nullptr) {
    return out;
  }
  const std::size_t pos = words.size() - 1 - (i + 1);  // index of cur among the command's args
  if ((cmd->name == "createAccount" || cmd->name == "setPassword") && pos == 1) {
    add_if("-");  // read the password instead of typing it on the command line
    return out;
  }
  if (cmd->name == "describe") {
    if (words[words.size() - 2] == "-a") {
      for (const auto& a : schema::all()) {
        add_if(std::string(a.name));
      }
    } else {
      for (const char* k : {"-a", "-v", "globalConfig", "server", "domain", "account"}) {
        add_if(k);
      }
    }
    return out;
  }
  if (!cmd->kind || cmd->attr_from < 0 || pos < static_cast<std::size_t>(cmd->attr_from)) {
    return out;
  }
  if (cmd->attr_values && (pos - static_cast<std::size_t>(cmd->attr_from)) % 2 == 1) {
    return out;  // a value
  }
  std::string prefix;
  if (cmd->attr_values && !cur.empty() && (cur[0] == '+' || cur[0] == '-')) {
    prefix = cur.substr(0, 1);
  }
  for (const auto& a : schema::all()) {
    if (a.allowed_on(*cmd->kind) && !a.secret) {
      add_if(prefix + std::string(a.name));
    }
  }
  return out;
}

// Ask the local zmlookupd (run/zmlookupd.sock) to rebuild its index.
zmproxy::Result<std::string> flush_lookup(const std::filesystem::path& socket_path) {
  using zmproxy::Errc;
  const std::string p = socket_path.string();
  auto reply = zmproxy::net::control_command(socket_path, "FLUSH", std::chrono::seconds(30));
  if (!reply) {
    if (reply.error().code == Errc::unavailable) {
      return zmproxy::fail(Errc::unavailable, "service.FAILURE",
                           "zmlookupd is not running on this host (no " + p + "); nothing to flush");
    }
    return zmproxy::fail(Errc::io_error, "service.FAILURE", "cannot reach zmlookupd at " + p);
  }
  if (!reply->ok) {
    return zmproxy::fail(Errc::io_error, "service.FAILURE",
                         "zmlookupd could not flush: " + std::string(zmproxy::core::trim(reply->text)));
  }
  return reply->text;
}

// The password for `zmprov ca|sp <account> -`: from standard input (a
// terminal: prompted, echo off, typed twice) when it is free, i.e. the
// command came from the arguments or -f; from the terminal when standard
// input carries the commands.
zmproxy::Result<std::string> read_password(const std::string& account, bool stdin_has_commands) {
  const std::string prompt = "Password for " + account + ": ";
  if (!stdin_has_commands || ::isatty(STDIN_FILENO) != 0) {
    return zmproxy::core::read_password(STDIN_FILENO, prompt, ::isatty(STDIN_FILENO) != 0);
  }
  const int tty = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tty < 0) {
    return zmproxy::fail(zmproxy::Errc::invalid_argument,
                         "standard input carries the commands and there is no terminal; run "
                         "'zmprov sp <account> -' on its own with the password on standard input");
  }
  auto pw = zmproxy::core::read_password(tty, prompt, true);
  ::close(tty);
  return pw;
}

int usage_error(const std::string& what) {
  std::cerr << "zmprov: " << what << "; see 'zmprov --help'\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "__complete") {
    std::vector<std::string> words(args.begin() + 1, args.end());
    if (words.empty()) {
      words.emplace_back();
    }
    for (const auto& c : complete(words)) {
      std::cout << c << '\n';
    }
    return 0;
  }
  provisioning::ProvOptions options;
  std::string home_opt;
  std::string file;
  std::size_t i = 0;
  for (; i < args.size() && args[i].size() > 1 && args[i][0] == '-'; ++i) {
    const std::string& o = args[i];
    if (o == "-h" || o == "--help") {
      std::cout << k_usage;
      return 0;
    }
    if (o == "--version") {
      std::cout << "zmprov (zmproxy) " << k_version << '\n';
      return 0;
    }
    if (o == "-r" || o == "--replace") {
      options.allow_replace = true;
    } else if (o == "--json") {
      options.json = true;
    } else if (o == "-l" || o == "--ldap" || o == "-m" || o == "--master" || o == "-v" ||
               o == "--verbose") {
      continue;
    } else if (o == "-f" || o == "--file" || o == "--home") {
      if (i + 1 >= args.size()) {
        return usage_error("option " + o + " needs a value");
      }
      (o == "--home" ? home_opt : file) = args[++i];
    } else {
      return usage_error("unknown option " + o);
    }
  }
  const std::vector<std::string> command(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());

  try {
    const core::HomePaths home{core::resolve_home(home_opt)};
    auto lc = localconfig::LocalConfig::load(home.localconfig(), home.home);
    if (!lc) {
      std::cerr << "ERROR: service.FAILURE (" << lc.error().message << ")\n";
      return 2;
    }
    // help, describe, exit and flushCache need no store (needs_store in the command table).
    const auto* info = command.empty() ? nullptr : provisioning::find_prov_command(command[0]);
    const bool offline = info != nullptr && !info->needs_store;
    std::unique_ptr<provisioning::Directory> dir;
    if (offline) {
      auto fs = provisioning::FileStore::open(home.data() / "prov.ldif");
      if (fs) {
        dir = std::move(*fs);
      }
    } else {
      auto opened = provisioning::open_store(*lc, home);
      if (!opened) {
        std::cerr << "ERROR: service.FAILURE (" << opened.error().message << ")\n";
        return 2;
      }
      dir = std::move(*opened);
    }
    if (!dir) {
      std::cerr << "ERROR: service.FAILURE (cannot open the store under " << home.home.string()
                << ")\n";
      return 2;
    }
    provisioning::Provisioning prov(*dir, provisioning::safeguarded_attrs(*lc));
    log::AuditLog audit(home.log() / "audit.log", "zmprov");
    prov.set_audit(provisioning::audit_sink(audit, "zmprov", std::cerr));
    options.flush_lookup = [&home] { return flush_lookup(home.run() / "zmlookupd.sock"); };
    options.flush_fleet = [&home, &lc]() -> std::vector<std::string> {
      auto store = provisioning::open_store(*lc, home);
      if (!store) {
        return {"cannot open the store: " + store.error().message};
      }
      ctl::FleetAsk ask;
      ask.secret = lc->value_or_empty("zmproxy_control_secret");
      ask.local_server = lc->value_or_empty("zimbra_server_hostname");
      ask.home = home;
      return ctl::flush_fleet(**store, ask);
    };
    const bool stdin_has_commands = command.empty() && file.empty();
    options.read_password = [stdin_has_commands](const std::string& account) {
      return read_password(account, stdin_has_commands);
    };
    provisioning::ProvShell shell(prov, options, std::cout, std::cerr);
    if (!command.empty()) {
      return static_cast<int>(shell.run(command));
    }
    if (!file.empty()) {
      std::ifstream in(file);
      if (!in) {
        std::cerr << "zmprov: cannot read " << file << "\n";
        return 2;
      }
      return shell.run_script(in, false);
    }
    return shell.run_script(std::cin, ::isatty(STDIN_FILENO) != 0);
  } catch (const std::exception& e) {
    std::cerr << "ERROR: service.FAILURE (" << e.what() << ")\n";
    return 2;
  }
}

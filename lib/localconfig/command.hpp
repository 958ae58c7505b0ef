#pragma once
// The behaviour of `zmlocalconfig`, separate from argument parsing so tests
// reach it without a process. Exit codes: 0 ok, 1 failed, 2 usage.

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace zmproxy::localconfig {

struct CommandOptions {
  std::filesystem::path home;
  bool edit = false;             // -e: args are key=value pairs to set
  bool unset = false;            // -u: args are keys to remove
  bool defaults = false;         // -d: show default values
  bool changed = false;          // -n: only keys whose value differs from the default
  bool info = false;             // -i: describe keys
  bool show_secrets = false;     // -s
  bool expand = false;           // -x
  bool path = false;             // -p
  bool quiet = false;            // -q
  std::string format = "plain";  // -m plain|shell|export|nokey
  std::vector<std::string> args;
};

int run_command(const CommandOptions& options, std::ostream& out, std::ostream& err);

// Every key name worth completing: known keys and those set under `home`.
std::vector<std::string> completion_keys(const std::filesystem::path& home);

}  // namespace zmproxy::localconfig

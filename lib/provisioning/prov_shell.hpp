#pragma once
// The zmprov command set over Provisioning: one command line at a time
// (run), or a script / interactive session (run_script). Output follows
// Zimbra's zmprov; --json gives the same data as JSON. Statuses map to
// zmprov's exit codes: 0 ok, 1 usage, 2 service error.

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.hpp"
#include "lib/provisioning/provisioning.hpp"

namespace zmproxy::provisioning {

struct ProvOptions {
  bool json = false;           // --json
  bool allow_replace = false;  // -r: replace safeguarded multi-valued attributes
  // flushCache reverseproxylookup: asks the local zmlookupd to rebuild its
  // index and clear its caches; returns its answer.
  std::function<Result<std::string>()> flush_lookup;
  // A password given as "-" (createAccount, setPassword) is read through
  // this instead of the command line, where `ps` shows it; the argument is
  // the account. Unset: "-" is refused.
  std::function<Result<std::string>(const std::string& account)> read_password;
};

enum class ProvStatus { ok = 0, usage = 1, failed = 2 };

struct ProvCommandInfo {
  std::string_view name;
  std::string_view alias;
  std::string_view usage;
  std::optional<Kind> kind;  // entry kind whose attributes the command takes
  int attr_from;             // index (after the command) where attribute words start; -1 none
  bool attr_values;          // attribute words come as name/value pairs
};

// Every command, in help order.
const std::vector<ProvCommandInfo>& prov_commands();
const ProvCommandInfo* find_prov_command(std::string_view name_or_alias);

// Split a line as a shell would: whitespace, '...', "..." and backslash escapes.
Result<std::vector<std::string>> split_command_line(std::string_view line);

class ProvShell {
 public:
  ProvShell(Provisioning& prov, ProvOptions options, std::ostream& out, std::ostream& err);

  // Run one command: args[0] is the command name or alias.
  ProvStatus run(const std::vector<std::string>& args);

  // Run every line of `in` (batch, or interactive with the `prov> ` prompt).
  // Errors do not stop it; returns 2 when any command failed, else 0.
  int run_script(std::istream& in, bool interactive);

 private:
  struct Handler;
  ProvStatus usage(const ProvCommandInfo& cmd);
  ProvStatus failed(const Error& e);
  void print_entry(const std::string& name, const Entry& entry, Kind kind, bool apply_defaults,
                   const std::vector<std::string>& only);
  void print_attrs(const std::vector<std::pair<std::string, Values>>& attrs);

  ProvStatus get_entry(Kind kind, const ProvCommandInfo& cmd, const std::vector<std::string>& a);
  ProvStatus get_config(const ProvCommandInfo& cmd, const std::vector<std::string>& a, bool all);
  ProvStatus list_entries(Kind kind, const ProvCommandInfo& cmd, const std::vector<std::string>& a);
  ProvStatus search(const ProvCommandInfo& cmd, const std::vector<std::string>& a);
  ProvStatus describe(const ProvCommandInfo& cmd, const std::vector<std::string>& a);
  ProvStatus help(const std::vector<std::string>& a);

  Provisioning& m_prov;
  ProvOptions m_options;
  std::ostream& m_out;
  std::ostream& m_err;
};

}  // namespace zmproxy::provisioning

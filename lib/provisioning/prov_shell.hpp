#pragma once
// The zmprov command set over Provisioning: one command line at a time
// (run), or a script / interactive session (run_script). Output follows
// Zimbra's zmprov; --json gives the same data as JSON. Statuses map to
// zmprov's exit codes: 0 ok, 1 usage, 2 service error.

#include "lib/core/result.hpp"
#include "lib/provisioning/provisioning.hpp"

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  // flushCache -a reverseproxylookup (issue 19): FLUSH to every lookup
  // handler and FORGET ALL to every proxy the store lists, over their control
  // endpoints; returns one line per server not reached (empty: all were).
  // Unset: -a flushes the local zmlookupd as without it.
  std::function<std::vector<std::string>()> flush_fleet;
};

enum class ProvStatus { ok = 0, usage = 1, failed = 2 };

class ProvShell;

// One zmprov command: one row of the command table (prov_shell.cpp); adding a
// command is adding a row and its handler.
struct ProvCommandInfo {
  // Runs the command once its argument count passed; `args` follow the name.
  using Handler = ProvStatus (ProvShell::*)(const ProvCommandInfo& cmd,
                                            const std::vector<std::string>& args);

  std::string_view name;
  std::string_view alias;
  std::string_view usage;
  // The entry kind the command works on; the shell completes its attribute
  // names from attr_from on.
  std::optional<Kind> kind;
  int attr_from;     // index (after the command) where attribute words start; -1 none
  bool attr_values;  // attribute words come as name/value pairs (an even count of them)
  int min_args;      // fewer arguments than this: usage
  int max_args;      // more than this: usage; -1 no limit
  bool needs_store;  // false: runs without the store (help, describe, exit, flushCache)
  Handler handler;
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
  friend const std::vector<ProvCommandInfo>& prov_commands();
  using Args = std::vector<std::string>;

  ProvStatus usage(const ProvCommandInfo& cmd);
  ProvStatus failed(const Error& e);
  ProvStatus done(const Result<void>& r);
  // The attribute changes among `a` from index `start` on.
  static Result<std::vector<AttrChange>> changes_from(const Args& a, std::size_t start);
  // The password argument `given` of `account`, read when it is "-".
  Result<std::string> password_of(const std::string& account, const std::string& given);
  ProvStatus print_id(const Result<Entry>& created);
  void print_entry(const std::string& name, const Entry& entry, Kind kind, bool apply_defaults,
                   const std::vector<std::string>& only);
  void print_attrs(const std::vector<std::pair<std::string, Values>>& attrs);
  // getConfig (one attribute, a[0]) or getAllConfig (those named, or all).
  ProvStatus get_config(const Args& a, bool all);

  // Handlers (ProvCommandInfo::Handler); cmd.kind says which kind of entry.
  // prov_shell_writes.cpp:
  ProvStatus create_account(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus create_named(const ProvCommandInfo& cmd, const Args& a);  // domain or server
  ProvStatus create_alias_domain(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus modify_entry(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus remove_entry(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus add_alias(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus remove_alias(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus set_password(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus flush_cache(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus quit(const ProvCommandInfo& cmd, const Args& a);  // run_script ends on it
  // prov_shell_reads.cpp:
  ProvStatus get_entry(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus get_one_config(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus get_all_config(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus list_entries(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus search(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus describe(const ProvCommandInfo& cmd, const Args& a);
  ProvStatus help(const ProvCommandInfo& cmd, const Args& a);

  Provisioning& m_prov;
  ProvOptions m_options;
  std::ostream& m_out;
  std::ostream& m_err;
};

}  // namespace zmproxy::provisioning

#include "lib/provisioning/prov_shell.hpp"

#include "lib/core/strings.hpp"

#include <istream>
#include <ostream>

namespace zmproxy::provisioning {

const std::vector<ProvCommandInfo>& prov_commands() {
  using S = ProvShell;
  constexpr int any = -1;
  // clang-format off
  static const std::vector<ProvCommandInfo> k_commands = {
      // name, alias, usage,
      //   kind, attr_from, attr_values, min_args, max_args, needs_store, handler
      {"createAccount", "ca", "{name@domain} {password|-} [attr1 value1 [attr2 value2...]]",
       Kind::account, 2, true, 2, any, true, &S::create_account},
      {"getAccount", "ga", "[-e] {name@domain|id} [attr1 [attr2...]]",
       Kind::account, 1, false, 1, any, true, &S::get_entry},
      {"modifyAccount", "ma", "{name@domain|id} attr1 value1 [attr2 value2...]",
       Kind::account, 1, true, 3, any, true, &S::modify_entry},
      {"deleteAccount", "da", "{name@domain|id}",
       Kind::account, -1, false, 1, 1, true, &S::remove_entry},
      {"getAllAccounts", "gaa", "[-v] [-e] [{domain}]",
       Kind::account, -1, false, 0, any, true, &S::list_entries},
      {"searchAccounts", "sa", "[-v] {ldap-query} [limit {limit}] [domain {domain}]",
       std::nullopt, -1, false, 1, any, true, &S::search},
      {"addAccountAlias", "aaa", "{name@domain|id} {alias@domain}",
       std::nullopt, -1, false, 2, 2, true, &S::add_alias},
      {"removeAccountAlias", "raa", "{name@domain|id} {alias@domain}",
       std::nullopt, -1, false, 2, 2, true, &S::remove_alias},
      {"setPassword", "sp", "{name@domain|id} {password|-}",
       std::nullopt, -1, false, 2, 2, true, &S::set_password},
      {"createDomain", "cd", "{domain} [attr1 value1 [attr2 value2...]]",
       Kind::domain, 1, true, 1, any, true, &S::create_named},
      {"createAliasDomain", "cad", "{alias-domain-name} {local-domain-name|id} [attr1 value1 [attr2 value2...]]",
       Kind::domain, 2, true, 2, any, true, &S::create_alias_domain},
      {"getDomain", "gd", "[-e] {domain|id} [attr1 [attr2...]]",
       Kind::domain, 1, false, 1, any, true, &S::get_entry},
      {"modifyDomain", "md", "{domain|id} attr1 value1 [attr2 value2...]",
       Kind::domain, 1, true, 3, any, true, &S::modify_entry},
      {"deleteDomain", "dd", "{domain|id}",
       Kind::domain, -1, false, 1, 1, true, &S::remove_entry},
      {"getAllDomains", "gad", "[-v] [-e] [attr1 [attr2...]]",
       Kind::domain, 0, false, 0, any, true, &S::list_entries},
      {"createServer", "cs", "{name} [attr1 value1 [attr2 value2...]]",
       Kind::server, 1, true, 1, any, true, &S::create_named},
      {"getServer", "gs", "[-e] {name|id} [attr1 [attr2...]]",
       Kind::server, 1, false, 1, any, true, &S::get_entry},
      {"modifyServer", "ms", "{name|id} attr1 value1 [attr2 value2...]",
       Kind::server, 1, true, 3, any, true, &S::modify_entry},
      {"deleteServer", "ds", "{name|id}",
       Kind::server, -1, false, 1, 1, true, &S::remove_entry},
      {"getAllServers", "gas", "[-v] [-e] [service]",
       Kind::server, -1, false, 0, any, true, &S::list_entries},
      {"getConfig", "gcf", "{name}",
       Kind::global, 0, false, 1, 1, true, &S::get_one_config},
      {"getAllConfig", "gacf", "[attr1 [attr2...]]",
       Kind::global, 0, false, 0, any, true, &S::get_all_config},
      {"modifyConfig", "mcf", "attr1 value1 [attr2 value2...]",
       Kind::global, 0, true, 2, any, true, &S::modify_entry},
      {"flushCache", "fc", "[-a] {reverseproxylookup|account|config|domain|server|all|...} [name1|id1 ...]",
       std::nullopt, -1, false, 1, any, false, &S::flush_cache},
      {"describe", "desc", "[[-v] [{entry-type}]] | [-a {attribute-name}]",
       std::nullopt, -1, false, 0, any, false, &S::describe},
      {"help", "?", "[commands]",
       std::nullopt, -1, false, 0, any, false, &S::help},
      {"exit", "quit", "",
       std::nullopt, -1, false, 0, any, false, &S::quit},
  };
  // clang-format on
  return k_commands;
}

const ProvCommandInfo* find_prov_command(std::string_view name) {
  for (const ProvCommandInfo& c : prov_commands()) {
    if (core::iequals(c.name, name) || core::iequals(c.alias, name)) {
      return &c;
    }
  }
  return nullptr;
}

Result<std::vector<std::string>> split_command_line(std::string_view line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        cur += line[++i];
      } else {
        cur += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur += line[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (in_word) {
        words.push_back(std::move(cur));
        cur.clear();
        in_word = false;
      }
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote != 0) {
    return fail(Errc::invalid_argument, std::string("unterminated ") + quote + " quote");
  }
  if (in_word) {
    words.push_back(std::move(cur));
  }
  return words;
}

ProvShell::ProvShell(Provisioning& prov, ProvOptions options, std::ostream& out, std::ostream& err)
    : m_prov(prov), m_options(options), m_out(out), m_err(err) {}

ProvStatus ProvShell::usage(const ProvCommandInfo& cmd) {
  m_out << "usage:  " << cmd.name << "(" << cmd.alias << ") " << cmd.usage << "\n\n"
        << "For general help, type : zmprov --help\n";
  return ProvStatus::usage;
}

ProvStatus ProvShell::failed(const Error& e) {
  if (e.code == Errc::invalid_argument && e.zimbra_code.empty()) {
    m_err << "error: " << e.message << '\n';
  } else {
    m_err << "ERROR: " << (e.zimbra_code.empty() ? "service.FAILURE" : e.zimbra_code) << " ("
          << e.message << ")\n";
  }
  return ProvStatus::failed;
}

ProvStatus ProvShell::done(const Result<void>& r) {
  return r ? ProvStatus::ok : failed(r.error());
}

namespace {

// The argument count the row allows: min_args..max_args, and attribute
// words in name/value pairs.
bool count_fits(const ProvCommandInfo& cmd, std::size_t n) {
  if (n < static_cast<std::size_t>(cmd.min_args)) {
    return false;
  }
  if (cmd.max_args >= 0 && n > static_cast<std::size_t>(cmd.max_args)) {
    return false;
  }
  return !cmd.attr_values || n < static_cast<std::size_t>(cmd.attr_from) ||
         (n - static_cast<std::size_t>(cmd.attr_from)) % 2 == 0;
}

}  // namespace

ProvStatus ProvShell::run(const Args& args) {
  if (args.empty()) {
    return ProvStatus::ok;
  }
  const ProvCommandInfo* cmd = find_prov_command(args[0]);
  if (cmd == nullptr) {
    m_out << "Unknown command. Type: 'zmprov help commands' for a list\n";
    return ProvStatus::usage;
  }
  const Args a(args.begin() + 1, args.end());
  if (!count_fits(*cmd, a.size())) {
    return usage(*cmd);
  }
  return (this->*cmd->handler)(*cmd, a);
}

int ProvShell::run_script(std::istream& in, bool interactive) {
  bool any_failed = false;
  std::string line;
  while (true) {
    if (interactive) {
      m_out << "prov> " << std::flush;
    }
    if (!std::getline(in, line)) {
      if (interactive) {
        m_out << '\n';
      }
      break;
    }
    const auto trimmed = core::trim(line);
    if (trimmed.empty() || trimmed.front() == '#') {
      continue;
    }
    auto words = split_command_line(trimmed);
    if (!words) {
      m_err << "error: " << words.error().message << '\n';
      any_failed = true;
      continue;
    }
    if (core::iequals((*words)[0], "exit") || core::iequals((*words)[0], "quit")) {
      break;
    }
    if (run(*words) != ProvStatus::ok) {
      any_failed = true;
    }
  }
  return any_failed ? 2 : 0;
}

}  // namespace zmproxy::provisioning

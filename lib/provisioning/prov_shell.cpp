#include "lib/provisioning/prov_shell.hpp"

#include <unistd.h>

#include <algorithm>
#include <istream>
#include <map>
#include <ostream>
#include <set>

#include "lib/core/json.hpp"
#include "lib/core/strings.hpp"
#include "lib/schema/registry.hpp"
#include "lib/schema/value.hpp"

namespace zmproxy::provisioning {

namespace {

using Args = std::vector<std::string>;

// Names of the commands; the handlers dispatch on the long name.
const std::vector<ProvCommandInfo> k_commands = {
    {"createAccount", "ca", "{name@domain} {password|-} [attr1 value1 [attr2 value2...]]", Kind::account, 2, true},
    {"getAccount", "ga", "[-e] {name@domain|id} [attr1 [attr2...]]", Kind::account, 1, false},
    {"modifyAccount", "ma", "{name@domain|id} attr1 value1 [attr2 value2...]", Kind::account, 1, true},
    {"deleteAccount", "da", "{name@domain|id}", std::nullopt, -1, false},
    {"getAllAccounts", "gaa", "[-v] [-e] [{domain}]", std::nullopt, -1, false},
    {"searchAccounts", "sa", "[-v] {ldap-query} [limit {limit}] [domain {domain}]", std::nullopt, -1, false},
    {"addAccountAlias", "aaa", "{name@domain|id} {alias@domain}", std::nullopt, -1, false},
    {"removeAccountAlias", "raa", "{name@domain|id} {alias@domain}", std::nullopt, -1, false},
    {"setPassword", "sp", "{name@domain|id} {password|-}", std::nullopt, -1, false},
    {"createDomain", "cd", "{domain} [attr1 value1 [attr2 value2...]]", Kind::domain, 1, true},
    {"createAliasDomain", "cad", "{alias-domain-name} {local-domain-name|id} [attr1 value1 [attr2 value2...]]", Kind::domain, 2, true},
    {"getDomain", "gd", "[-e] {domain|id} [attr1 [attr2...]]", Kind::domain, 1, false},
    {"modifyDomain", "md", "{domain|id} attr1 value1 [attr2 value2...]", Kind::domain, 1, true},
    {"deleteDomain", "dd", "{domain|id}", std::nullopt, -1, false},
    {"getAllDomains", "gad", "[-v] [-e] [attr1 [attr2...]]", Kind::domain, 0, false},
    {"createServer", "cs", "{name} [attr1 value1 [attr2 value2...]]", Kind::server, 1, true},
    {"getServer", "gs", "[-e] {name|id} [attr1 [attr2...]]", Kind::server, 1, false},
    {"modifyServer", "ms", "{name|id} attr1 value1 [attr2 value2...]", Kind::server, 1, true},
    {"deleteServer", "ds", "{name|id}", std::nullopt, -1, false},
    {"getAllServers", "gas", "[-v] [-e] [service]", std::nullopt, -1, false},
    {"getConfig", "gcf", "{name}", Kind::global, 0, false},
    {"getAllConfig", "gacf", "[attr1 [attr2...]]", Kind::global, 0, false},
    {"modifyConfig", "mcf", "attr1 value1 [attr2 value2...]", Kind::global, 0, true},
    {"flushCache", "fc", "[-a] {reverseproxylookup|account|config|domain|server|all|...} [name1|id1 ...]", std::nullopt, -1, false},
    {"describe", "desc", "[[-v] [{entry-type}]] | [-a {attribute-name}]", std::nullopt, -1, false},
    {"help", "?", "[commands]", std::nullopt, -1, false},
    {"exit", "quit", "", std::nullopt, -1, false},
};

// Java TreeMap order: plain byte order, upper case before lower case.
std::vector<std::pair<std::string, Values>> sorted_attrs(const AttrMap& attrs) {
  std::vector<std::pair<std::string, Values>> out(attrs.begin(), attrs.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

bool hidden(std::string_view attr) {
  const schema::Attribute* a = schema::find(attr);
  return a != nullptr && a->secret;
}

}  // namespace

const std::vector<ProvCommandInfo>& prov_commands() { return k_commands; }

const ProvCommandInfo* find_prov_command(std::string_view name) {
  for (const ProvCommandInfo& c : k_commands) {
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

void ProvShell::print_attrs(const std::vector<std::pair<std::string, Values>>& attrs) {
  for (const auto& [name, values] : attrs) {
    if (hidden(name)) {
      continue;
    }
    for (const std::string& v : values) {
      if (v.empty()) {
        continue;
      }
      m_out << name << ": " << v << '\n';
    }
  }
}

void ProvShell::print_entry(const std::string& name, const Entry& entry, Kind kind,
                            bool apply_defaults, const std::vector<std::string>& only) {
  AttrMap attrs;
  for (const auto& [k, v] : entry.attrs) {
    // Registry attributes keep their canonical spelling.
    const schema::Attribute* a = schema::find(k);
    attrs[a != nullptr ? std::string(a->name) : k] = v;
  }
  if (apply_defaults) {
    for (const schema::Attribute& a : schema::all()) {
      if (attrs.count(a.name) != 0 || !a.allowed_on(kind)) {
        continue;
      }
      if (kind != Kind::global && !a.inherits(kind)) {
        continue;
      }
      auto v = m_prov.effective(entry, kind, a.name);
      if (v && !v->empty()) {
        attrs[std::string(a.name)] = *v;
      }
    }
  }
  if (!only.empty()) {
    AttrMap picked;
    for (const std::string& want : only) {
      if (const auto it = attrs.find(want); it != attrs.end()) {
        picked.insert(*it);
      }
    }
    attrs = std::move(picked);
  }
  if (m_options.json) {
    m_out << "{\"name\":" << core::json_quote(name) << ",\"attrs\":{";
    bool first = true;
    for (const auto& [k, v] : sorted_attrs(attrs)) {
      if (hidden(k)) {
        continue;
      }
      m_out << (first ? "" : ",") << core::json_quote(k) << ':' << core::json_array(v);
      first = false;
    }
    m_out << "}}\n";
    return;
  }
  m_out << "# name " << name << '\n';
  print_attrs(sorted_attrs(attrs));
  m_out << '\n';
}

ProvStatus ProvShell::get_entry(Kind kind, const ProvCommandInfo& cmd, const Args& a) {
  std::size_t i = 0;
  bool apply_defaults = true;
  while (i < a.size() && a[i] == "-e") {
    apply_defaults = false;
    ++i;
  }
  if (i >= a.size()) {
    return usage(cmd);
  }
  auto e = m_prov.get(kind, a[i]);
  if (!e) {
    return failed(e.error());
  }
  print_entry(Provisioning::name_of(*e, kind), *e, kind, apply_defaults,
              Args(a.begin() + static_cast<std::ptrdiff_t>(i) + 1, a.end()));
  return ProvStatus::ok;
}

ProvStatus ProvShell::get_config(const ProvCommandInfo& cmd, const Args& a, bool all) {
  if (!all && a.size() != 1) {
    return usage(cmd);
  }
  if (!all) {
    const schema::Attribute* attr = schema::find(a[0]);
    if (attr == nullptr || !attr->allowed_on(Kind::global)) {
      const auto hint = schema::suggest(a[0]);
      return failed(Error{Errc::invalid_argument,
                          "invalid attr name: " + a[0] +
                              (attr != nullptr ? " (not a globalConfig attribute)"
                               : hint.empty()  ? std::string()
                                               : "; did you mean " + std::string(hint) + "?"),
                          "account.INVALID_ATTR_NAME"});
    }
  }
  auto config = m_prov.get(Kind::global, "");
  Entry entry{std::string(k_config_dn), {}};
  if (config) {
    entry = std::move(*config);
  } else if (config.error().code != Errc::not_found) {
    return failed(config.error());
  }
  std::vector<std::pair<std::string, Values>> out;
  for (const schema::Attribute& attr : schema::all()) {
    if (!attr.allowed_on(Kind::global)) {
      continue;
    }
    if (!all && !core::iequals(attr.name, a[0])) {
      continue;
    }
    if (all && !a.empty() && std::none_of(a.begin(), a.end(), [&](const std::string& w) {
          return core::iequals(w, attr.name);
        })) {
      continue;
    }
    auto v = m_prov.effective(entry, Kind::global, attr.name);
    if (!v) {
      return failed(v.error());
    }
    if (!v->empty()) {
      out.emplace_back(std::string(attr.name), std::move(*v));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  if (m_options.json) {
    m_out << '{';
    for (std::size_t i = 0; i < out.size(); ++i) {
      m_out << (i == 0 ? "" : ",") << core::json_quote(out[i].first) << ':'
            << core::json_array(out[i].second);
    }
    m_out << "}\n";
  } else {
    print_attrs(out);
  }
  return ProvStatus::ok;
}

ProvStatus ProvShell::list_entries(Kind kind, const ProvCommandInfo& cmd, const Args& a) {
  bool verbose = false;
  bool apply_defaults = true;
  Args rest;
  for (const std::string& w : a) {
    if (w == "-v") {
      verbose = true;
    } else if (w == "-e") {
      apply_defaults = false;
    } else {
      rest.push_back(w);
    }
  }
  std::string scope;
  Args only;
  if (kind == Kind::domain) {
    only = rest;
  } else if (rest.size() > 1) {
    return usage(cmd);
  } else if (!rest.empty()) {
    scope = rest[0];
  }
  auto entries = m_prov.list(kind, scope);
  if (!entries) {
    return failed(entries.error());
  }
  if (!verbose) {
    if (m_options.json) {
      Args names;
      for (const Entry& e : *entries) {
        names.push_back(Provisioning::name_of(e, kind));
      }
      m_out << core::json_array(names) << '\n';
    } else {
      for (const Entry& e : *entries) {
        m_out << Provisioning::name_of(e, kind) << '\n';
      }
    }
    return ProvStatus::ok;
  }
  for (const Entry& e : *entries) {
    print_entry(Provisioning::name_of(e, kind), e, kind, apply_defaults, only);
  }
  return ProvStatus::ok;
}

ProvStatus ProvShell::search(const ProvCommandInfo& cmd, const Args& a) {
  bool verbose = false;
  std::string query;
  std::string domain;
  std::size_t limit = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == "-v") {
      verbose = true;
    } else if ((a[i] == "limit" || a[i] == "domain" || a[i] == "offset" || a[i] == "sortBy" ||
                a[i] == "sortAscending") &&
               i + 1 < a.size() && !query.empty()) {
      if (a[i] == "limit") {
        try {
          limit = static_cast<std::size_t>(std::stoul(a[i + 1]));
        } catch (const std::exception&) {
          return usage(cmd);
        }
      } else if (a[i] == "domain") {
        domain = a[i + 1];
      }
      ++i;
    } else if (query.empty()) {
      query = a[i];
    } else {
      return usage(cmd);
    }
  }
  if (query.empty()) {
    return usage(cmd);
  }
  auto found = m_prov.search_accounts(query, domain, limit);
  if (!found) {
    return failed(found.error());
  }
  for (const Entry& e : *found) {
    if (verbose) {
      print_entry(Provisioning::name_of(e, Kind::account), e, Kind::account, true, {});
    } else {
      m_out << Provisioning::name_of(e, Kind::account) << '\n';
    }
  }
  return ProvStatus::ok;
}

ProvStatus ProvShell::describe(const ProvCommandInfo& cmd, const Args& a) {
  auto details = [&](const schema::Attribute& attr) {
    m_out << attr.name << "\n    " << attr.description << "\n\n";
    m_out << "    type : " << schema::type_name(attr.type);
    if (attr.has_min || attr.has_max) {
      m_out << " [" << (attr.has_min ? std::to_string(attr.min) : "") << ".."
            << (attr.has_max ? std::to_string(attr.max) : "") << "]";
    }
    if (attr.maxlen != 0) {
      m_out << " [..maxlen " << attr.maxlen << "]";
    }
    m_out << "\n    value : " << schema::accepted_values(attr)
          << "\n    cardinality : " << (attr.multi ? "multi" : "single")
          << "\n    requiredIn : \n    optionalIn : " << schema::kinds_text(attr.kinds)
          << "\n    inheritance : " << (attr.inherit != 0 ? schema::kinds_text(attr.inherit) + " from globalConfig" : "none")
          << "\n    change : " << schema::change_name(attr.change);
    if (!attr.defaults.empty()) {
      m_out << "\n    defaults : ";
      for (std::size_t i = 0; i < attr.defaults.size(); ++i) {
        m_out << (i == 0 ? "" : ", ") << attr.defaults[i];
      }
    }
    m_out << "\n\n";
  };
  bool verbose = false;
  std::optional<Kind> kind;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == "-a") {
      if (i + 1 >= a.size()) {
        return usage(cmd);
      }
      const schema::Attribute* attr = schema::find(a[i + 1]);
      if (attr == nullptr) {
        const auto hint = schema::suggest(a[i + 1]);
        return failed(Error{Errc::invalid_argument,
                            "invalid attr name: " + a[i + 1] +
                                (hint.empty() ? std::string() : "; did you mean " + std::string(hint) + "?"),
                            "account.INVALID_ATTR_NAME"});
      }
      details(*attr);
      return ProvStatus::ok;
    }
    if (a[i] == "-v") {
      verbose = true;
    } else if (a[i] == "-ni") {
      continue;
    } else if (auto k = schema::parse_kind(a[i])) {
      kind = k;
    } else {
      m_err << "error: unknown entry type " << a[i]
            << "; use globalConfig, server, domain or account\n";
      return ProvStatus::usage;
    }
  }
  for (const schema::Attribute& attr : schema::all()) {
    if (kind && !attr.allowed_on(*kind)) {
      continue;
    }
    if (verbose) {
      details(attr);
    } else {
      m_out << attr.name << '\n';
    }
  }
  return ProvStatus::ok;
}

ProvStatus ProvShell::help(const Args& /*a*/) {
  m_out << "zmprov [-r] [--json] [-f file] [cmd [args ...]]\n\n"
           "Commands (long name and alias):\n";
  for (const ProvCommandInfo& c : k_commands) {
    m_out << "  " << c.name << "(" << c.alias << ") " << c.usage << '\n';
  }
  m_out << "\nAttribute values: 'attr value' sets (repeat the name for several values, '' clears),\n"
           "'+attr value' adds a value, '-attr value' removes one. See zmprov(1).\n";
  return ProvStatus::ok;
}

// The password argument that means "read it" (ca, sp).
constexpr std::string_view k_read_password = "-";

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
  const std::string_view n = cmd->name;
  auto changes_from = [&](std::size_t start) {
    return parse_attr_args(std::span<const std::string>(a).subspan(start));
  };
  auto done = [&](const Result<void>& r) { return r ? ProvStatus::ok : failed(r.error()); };
  auto modify = [&](Kind kind) -> ProvStatus {
    const std::size_t first = kind == Kind::global ? 0 : 1;  // where attribute pairs start
    if (a.size() < first + 2 || (a.size() - first) % 2 != 0) {
      return usage(*cmd);
    }
    auto changes = changes_from(first);
    if (!changes) {
      return usage(*cmd);
    }
    return done(m_prov.modify(kind, kind == Kind::global ? "" : a[0], *changes,
                              m_options.allow_replace));
  };
  auto print_id = [&](const Result<Entry>& e) {
    if (!e) {
      return failed(e.error());
    }
    m_out << (m_options.json ? "{\"zimbraId\":" + core::json_quote(e->first("zimbraId")) + "}"
                             : e->first("zimbraId"))
          << '\n';
    return ProvStatus::ok;
  };

  // "-" for the password: read it (terminal without echo, or standard input).
  auto password_of = [&](const std::string& account, const std::string& given) -> Result<std::string> {
    if (given != k_read_password) {
      return given;
    }
    if (!m_options.read_password) {
      return fail(Errc::invalid_argument, "service.INVALID_REQUEST",
                  "'-' reads the password from the terminal or standard input, but neither is "
                  "available here; give the password as an argument");
    }
    auto pw = m_options.read_password(account);
    if (pw && pw->empty()) {
      return fail(Errc::invalid_argument, "account.INVALID_PASSWORD",
                  "the password read is empty (for an account without a password give '')");
    }
    if (!pw) {
      return fail(Errc::invalid_argument, "account.INVALID_PASSWORD",
                  "cannot read the password for " + account + ": " + pw.error().message);
    }
    return pw;
  };

  if (n == "createAccount") {
    if (a.size() < 2 || a.size() % 2 != 0) {
      return usage(*cmd);
    }
    auto changes = changes_from(2);
    if (!changes) {
      return usage(*cmd);
    }
    auto password = password_of(a[0], a[1]);
    return password ? print_id(m_prov.create_account(a[0], *password, *changes))
                    : failed(password.error());
  }
  if (n == "createDomain" || n == "createServer") {
    if (a.empty() || a.size() % 2 != 1) {
      return usage(*cmd);
    }
    auto changes = changes_from(1);
    if (!changes) {
      return usage(*cmd);
    }
    return print_id(n == "createDomain" ? m_prov.create_domain(a[0], *changes)
                                        : m_prov.create_server(a[0], *changes));
  }
  if (n == "createAliasDomain") {
    if (a.size() < 2 || a.size() % 2 != 0) {
      return usage(*cmd);
    }
    auto changes = changes_from(2);
    return changes ? print_id(m_prov.create_alias_domain(a[0], a[1], *changes)) : usage(*cmd);
  }
  if (n == "getAccount") return get_entry(Kind::account, *cmd, a);
  if (n == "getDomain") return get_entry(Kind::domain, *cmd, a);
  if (n == "getServer") return get_entry(Kind::server, *cmd, a);
  if (n == "modifyAccount") return modify(Kind::account);
  if (n == "modifyDomain") return modify(Kind::domain);
  if (n == "modifyServer") return modify(Kind::server);
  if (n == "modifyConfig") return modify(Kind::global);
  if (n == "deleteAccount" || n == "deleteDomain" || n == "deleteServer") {
    if (a.size() != 1) {
      return usage(*cmd);
    }
    const Kind k = n == "deleteAccount" ? Kind::account : n == "deleteDomain" ? Kind::domain : Kind::server;
    return done(m_prov.remove(k, a[0]));
  }
  if (n == "getAllAccounts") return list_entries(Kind::account, *cmd, a);
  if (n == "getAllDomains") return list_entries(Kind::domain, *cmd, a);
  if (n == "getAllServers") return list_entries(Kind::server, *cmd, a);
  if (n == "searchAccounts") return search(*cmd, a);
  if (n == "addAccountAlias" || n == "removeAccountAlias") {
    if (a.size() != 2) {
      return usage(*cmd);
    }
    return done(n == "addAccountAlias" ? m_prov.add_alias(a[0], a[1]) : m_prov.remove_alias(a[0], a[1]));
  }
  if (n == "setPassword") {
    if (a.size() != 2) {
      return usage(*cmd);
    }
    auto password = password_of(a[0], a[1]);
    return password ? done(m_prov.set_password(a[0], *password)) : failed(password.error());
  }
  if (n == "getConfig") return get_config(*cmd, a, false);
  if (n == "getAllConfig") return get_config(*cmd, a, true);
  if (n == "flushCache") {
    Args rest;
    for (const auto& w : a) {
      if (w != "-a") {
        rest.push_back(w);
      }
    }
    if (rest.empty()) {
      return usage(*cmd);
    }
    const std::string type = core::to_lower(rest[0]);
    if (type == "reverseproxylookup" || type == "all") {
      if (!m_options.flush_lookup) {
        return ProvStatus::ok;
      }
      auto r = m_options.flush_lookup();
      if (!r) {
        return failed(r.error());
      }
      return ProvStatus::ok;
    }
    // zmproxy's tools read the store directly: there is no other cache to flush.
    return ProvStatus::ok;
  }
  if (n == "describe") return describe(*cmd, a);
  if (n == "help") return help(a);
  return ProvStatus::ok;  // exit: handled by run_script
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

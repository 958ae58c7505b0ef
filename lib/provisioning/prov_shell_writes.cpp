// The zmprov commands that write: create, modify and delete entries, account
// aliases and passwords, and flushCache.

#include "lib/core/json.hpp"
#include "lib/core/strings.hpp"
#include "lib/provisioning/prov_shell.hpp"

#include <ostream>
#include <span>

namespace zmproxy::provisioning {

namespace {

// The password argument that means "read it" (ca, sp).
constexpr std::string_view k_read_password = "-";

}  // namespace

Result<std::vector<AttrChange>> ProvShell::changes_from(const Args& a, std::size_t start) {
  return parse_attr_args(std::span<const std::string>(a).subspan(start));
}

// "-" for the password: read it (terminal without echo, or standard input).
Result<std::string> ProvShell::password_of(const std::string& account, const std::string& given) {
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
}

ProvStatus ProvShell::print_id(const Result<Entry>& e) {
  if (!e) {
    return failed(e.error());
  }
  m_out << (m_options.json ? "{\"zimbraId\":" + core::json_quote(e->first("zimbraId")) + "}"
                           : e->first("zimbraId"))
        << '\n';
  return ProvStatus::ok;
}

ProvStatus ProvShell::create_account(const ProvCommandInfo& cmd, const Args& a) {
  auto changes = changes_from(a, 2);
  if (!changes) {
    return usage(cmd);
  }
  auto password = password_of(a[0], a[1]);
  return password ? print_id(m_prov.create_account(a[0], *password, *changes))
                  : failed(password.error());
}

ProvStatus ProvShell::create_named(const ProvCommandInfo& cmd, const Args& a) {
  auto changes = changes_from(a, 1);
  if (!changes) {
    return usage(cmd);
  }
  return print_id(cmd.kind == Kind::domain ? m_prov.create_domain(a[0], *changes)
                                           : m_prov.create_server(a[0], *changes));
}

ProvStatus ProvShell::create_alias_domain(const ProvCommandInfo& cmd, const Args& a) {
  auto changes = changes_from(a, 2);
  return changes ? print_id(m_prov.create_alias_domain(a[0], a[1], *changes)) : usage(cmd);
}

ProvStatus ProvShell::modify_entry(const ProvCommandInfo& cmd, const Args& a) {
  const Kind kind = *cmd.kind;
  auto changes = changes_from(a, static_cast<std::size_t>(cmd.attr_from));
  if (!changes) {
    return usage(cmd);
  }
  return done(
      m_prov.modify(kind, kind == Kind::global ? "" : a[0], *changes, m_options.allow_replace));
}

ProvStatus ProvShell::remove_entry(const ProvCommandInfo& cmd, const Args& a) {
  return done(m_prov.remove(*cmd.kind, a[0]));
}

ProvStatus ProvShell::add_alias(const ProvCommandInfo& /*cmd*/, const Args& a) {
  return done(m_prov.add_alias(a[0], a[1]));
}

ProvStatus ProvShell::remove_alias(const ProvCommandInfo& /*cmd*/, const Args& a) {
  return done(m_prov.remove_alias(a[0], a[1]));
}

ProvStatus ProvShell::set_password(const ProvCommandInfo& /*cmd*/, const Args& a) {
  auto password = password_of(a[0], a[1]);
  return password ? done(m_prov.set_password(a[0], *password)) : failed(password.error());
}

ProvStatus ProvShell::flush_cache(const ProvCommandInfo& cmd, const Args& a) {
  Args rest;
  bool all_servers = false;
  for (const auto& w : a) {
    if (w != "-a") {
      rest.push_back(w);
    } else {
      all_servers = true;
    }
  }
  if (rest.empty()) {
    return usage(cmd);
  }
  const std::string type = core::to_lower(rest[0]);
  if ((type == "reverseproxylookup" || type == "all") && all_servers && m_options.flush_fleet) {
    // -a: every lookup handler and proxy in the store; a line for each not reached.
    const std::vector<std::string> unreached = m_options.flush_fleet();
    for (const std::string& line : unreached) {
      m_err << "ERROR: service.FAILURE (" << line << ")\n";
    }
    return unreached.empty() ? ProvStatus::ok : ProvStatus::failed;
  }
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

ProvStatus ProvShell::quit(const ProvCommandInfo& /*cmd*/, const Args& /*a*/) {
  return ProvStatus::ok;  // run_script stops at exit/quit before it gets here
}

}  // namespace zmproxy::provisioning

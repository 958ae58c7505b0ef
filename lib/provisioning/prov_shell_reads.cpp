// The zmprov commands that read: get*, getAll*, searchAccounts, getConfig,
// getAllConfig, describe and help, and how entries and attributes print
// (Zimbra's "name: value" lines, or JSON).

#include "lib/core/json.hpp"
#include "lib/core/strings.hpp"
#include "lib/provisioning/prov_shell.hpp"
#include "lib/schema/registry.hpp"
#include "lib/schema/value.hpp"

#include <algorithm>
#include <ostream>

namespace zmproxy::provisioning {

namespace {

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

void ProvShell::print_entry(const std::string& name,
                            const Entry& entry,
                            Kind kind,
                            bool apply_defaults,
                            const std::vector<std::string>& only) {
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

ProvStatus ProvShell::get_entry(const ProvCommandInfo& cmd, const Args& a) {
  const Kind kind = *cmd.kind;
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

ProvStatus ProvShell::get_one_config(const ProvCommandInfo& /*cmd*/, const Args& a) {
  return get_config(a, false);
}

ProvStatus ProvShell::get_all_config(const ProvCommandInfo& /*cmd*/, const Args& a) {
  return get_config(a, true);
}

ProvStatus ProvShell::get_config(const Args& a, bool all) {
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

ProvStatus ProvShell::list_entries(const ProvCommandInfo& cmd, const Args& a) {
  const Kind kind = *cmd.kind;
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
          << "\n    inheritance : "
          << (attr.inherit != 0 ? schema::kinds_text(attr.inherit) + " from globalConfig" : "none")
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
        return failed(
            Error{Errc::invalid_argument,
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

ProvStatus ProvShell::help(const ProvCommandInfo& /*cmd*/, const Args& /*a*/) {
  m_out << "zmprov [-r] [--json] [-f file] [cmd [args ...]]\n\n"
           "Commands (long name and alias):\n";
  for (const ProvCommandInfo& c : prov_commands()) {
    m_out << "  " << c.name << "(" << c.alias << ") " << c.usage << '\n';
  }
  m_out
      << "\nAttribute values: 'attr value' sets (repeat the name for several values, '' clears),\n"
         "'+attr value' adds a value, '-attr value' removes one. See zmprov(1).\n";
  return ProvStatus::ok;
}

}  // namespace zmproxy::provisioning

#include "lib/localconfig/command.hpp"

#include "lib/core/file_lock.hpp"
#include "lib/core/home.hpp"
#include "lib/core/strings.hpp"
#include "lib/localconfig/keys.hpp"
#include "lib/localconfig/localconfig.hpp"

#include <algorithm>
#include <optional>
#include <ostream>

namespace zmproxy::localconfig {

namespace {

constexpr int k_ok = 0;
constexpr int k_failed = 1;
constexpr int k_usage = 2;

constexpr std::string_view k_tool = "zmlocalconfig: ";

std::string_view suggest_key(std::string_view name) {
  std::string_view best;
  std::size_t best_d = 4;
  for (const KeyInfo& k : known_keys()) {
    const auto d = core::edit_distance(k.name, name);
    if (d < best_d) {
      best_d = d;
      best = k.name;
    }
  }
  return best;
}

void print_value(std::ostream& out,
                 const std::string& format,
                 const std::string& key,
                 const std::string& value) {
  if (format == "nokey") {
    out << value << '\n';
  } else if (format == "shell") {
    out << key << '=' << core::shell_quote(value) << ";\n";
  } else if (format == "export") {
    out << "export " << key << '=' << core::shell_quote(value) << ";\n";
  } else {
    out << key << " = " << value << '\n';
  }
}

int edit(LocalConfig& lc, const CommandOptions& o, std::ostream& err) {
  if (o.args.empty()) {
    err << k_tool << "-e needs at least one key=value argument\n";
    return k_usage;
  }
  for (const std::string& arg : o.args) {
    const auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      err << k_tool << "argument '" << arg << "' not in key=value form\n";
      return k_usage;
    }
  }
  for (const std::string& arg : o.args) {
    const auto eq = arg.find('=');
    const std::string key = arg.substr(0, eq);
    if (auto r = lc.set(key, std::string_view(arg).substr(eq + 1)); !r) {
      err << k_tool << r.error().message << '\n';
      return k_failed;
    }
    if (!o.quiet && find_key(key) == nullptr) {
      const auto hint = suggest_key(key);
      err << k_tool << "note: " << key << " is not a key zmproxy uses"
          << (hint.empty() ? std::string() : "; did you mean " + std::string(hint) + "?") << '\n';
    }
  }
  if (auto r = lc.save(); !r) {
    err << k_tool << r.error().message << '\n';
    return k_failed;
  }
  return k_ok;
}

int unset(LocalConfig& lc, const CommandOptions& o, std::ostream& err) {
  if (o.args.empty()) {
    err << k_tool << "-u needs at least one key\n";
    return k_usage;
  }
  for (const std::string& key : o.args) {
    if (auto r = lc.unset(key); !r) {
      err << k_tool << r.error().message << '\n';
      return k_failed;
    }
  }
  if (auto r = lc.save(); !r) {
    err << k_tool << r.error().message << '\n';
    return k_failed;
  }
  return k_ok;
}

int info(const LocalConfig& lc,
         const std::vector<std::string>& keys,
         std::ostream& out,
         std::ostream& err) {
  int rc = k_ok;
  for (const std::string& key : keys) {
    const KeyInfo* k = find_key(key);
    if (k == nullptr) {
      err << k_tool << "no documentation for key " << key << '\n';
      rc = k_failed;
      continue;
    }
    out << key << '\n' << "    " << k->description << '\n';
    const auto def = lc.default_value(key).value_or("");
    out << "    default: " << (def.empty() ? "(empty)" : def) << "\n\n";
  }
  return rc;
}

}  // namespace

int run_command(const CommandOptions& o, std::ostream& out, std::ostream& err) {
  static constexpr std::string_view formats[] = {"plain", "shell", "export", "nokey"};
  if (std::find(std::begin(formats), std::end(formats), o.format) == std::end(formats)) {
    err << k_tool << "unknown format '" << o.format << "'; use plain, shell, export or nokey\n";
    return k_usage;
  }
  if (o.edit && o.unset) {
    err << k_tool << "-e and -u cannot be combined\n";
    return k_usage;
  }
  const core::HomePaths home{o.home};
  if (o.path) {
    out << home.localconfig().string() << '\n';
    return k_ok;
  }
  // Writers hold the lock across read-modify-write: concurrent edits never lose one another.
  std::optional<core::FileLock> lock;
  if (o.edit || o.unset) {
    auto l = core::FileLock::acquire(home.conf() / ".localconfig.lock");
    if (!l) {
      err << k_tool << l.error().message << '\n';
      return k_failed;
    }
    lock.emplace(std::move(*l));
  }
  auto loaded = LocalConfig::load(home.localconfig(), home.home);
  if (!loaded) {
    err << k_tool << loaded.error().message << '\n';
    return k_failed;
  }
  LocalConfig& lc = *loaded;
  if (o.edit) {
    return edit(lc, o, err);
  }
  if (o.unset) {
    return unset(lc, o, err);
  }

  std::vector<std::string> keys = o.args.empty() ? lc.keys() : o.args;
  if (o.args.empty() && o.defaults) {
    keys.clear();
    for (const KeyInfo& k : known_keys()) {
      keys.emplace_back(k.name);
    }
  }
  if (o.info) {
    return info(lc, keys, out, err);
  }

  // shell and export are for scripts: always expanded, secrets shown (as Zimbra).
  const bool script_format = o.format == "shell" || o.format == "export";
  const bool expand = o.expand || script_format;
  const bool show_secrets = o.show_secrets || script_format;
  int rc = k_ok;
  for (const std::string& key : keys) {
    std::optional<std::string> value;
    if (o.defaults) {
      value = lc.default_value(key);
    } else {
      value = lc.get(key);
      if (o.changed && (!lc.is_set(key) || value == lc.default_value(key))) {
        continue;
      }
    }
    if (!value) {
      err << k_tool << "key " << key << " is not set\n";
      rc = k_failed;
      continue;
    }
    if (expand && !o.defaults) {
      auto x = lc.expanded(key);
      if (!x) {
        err << k_tool << x.error().message << '\n';
        rc = k_failed;
        continue;
      }
      value = *x;
    }
    if (is_secret_key(key) && !show_secrets) {
      value = "*";
    }
    print_value(out, o.format, key, *value);
  }
  return rc;
}

std::vector<std::string> completion_keys(const std::filesystem::path& home) {
  const core::HomePaths paths{home};
  auto lc = LocalConfig::load(paths.localconfig(), paths.home);
  if (lc) {
    return lc->keys();
  }
  std::vector<std::string> keys;
  for (const KeyInfo& k : known_keys()) {
    keys.emplace_back(k.name);
  }
  return keys;
}

}  // namespace zmproxy::localconfig

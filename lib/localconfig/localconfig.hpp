#pragma once
// conf/localconfig.toml: the settings local to one machine (Zimbra's
// localconfig). A flat TOML table of key = "value". zmlocalconfig owns the
// file and rewrites it whole, atomically; a person may edit it by hand.
// Not thread-safe; load a copy per use.

#include "lib/core/result.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::localconfig {

class LocalConfig {
 public:
  // Read `file`. A missing file is an empty configuration (defaults only);
  // a file that does not parse is an error naming the file, line and column.
  // `home` becomes the default of zimbra_home.
  static Result<LocalConfig> load(const std::filesystem::path& file,
                                  const std::filesystem::path& home);

  const std::filesystem::path& file() const { return m_file; }

  // The value: set in the file, else the known default; nullopt if neither.
  std::optional<std::string> get(std::string_view key) const;
  // The default of a known key ("" for zimbra_home gives the home).
  std::optional<std::string> default_value(std::string_view key) const;
  // The value with ${key} references expanded (recursively, loops are errors).
  Result<std::string> expanded(std::string_view key) const;
  // The value, or "" when unknown and unset. For daemons reading their settings.
  std::string value_or_empty(std::string_view key) const;
  // Integer value of a key (expanded); fallback when unset or not a number.
  long long integer(std::string_view key, long long fallback) const;

  bool is_set(std::string_view key) const { return m_values.count(std::string(key)) != 0; }

  // Set a key; the key name and, for known keys, the value's type are checked.
  Result<void> set(std::string_view key, std::string_view value);
  // Remove a key from the file; an error when it is not set.
  Result<void> unset(std::string_view key);

  // Every key worth listing: known keys and keys set in the file, sorted.
  std::vector<std::string> keys() const;

  // Write the file atomically (0640: it holds passwords).
  Result<void> save() const;

  // The file's text as save() would write it.
  std::string serialize() const;

 private:
  std::filesystem::path m_file;
  std::string m_home;
  std::map<std::string, std::string, std::less<>> m_values;
};

}  // namespace zmproxy::localconfig

#pragma once
// The localconfig keys zmproxy knows, with Zimbra's names and defaults.
// Unknown keys may still be set (Zimbra allows it); known keys are typed.

#include <span>
#include <string_view>

namespace zmproxy::localconfig {

enum class KeyType { string, integer, boolean };

struct KeyInfo {
  std::string_view name;
  KeyType type;
  std::string_view default_value;  // may reference other keys as ${key}
  std::string_view description;
};

// Sorted by name.
std::span<const KeyInfo> known_keys() noexcept;
const KeyInfo* find_key(std::string_view name) noexcept;

// Keys whose values are secrets: any key whose name contains "password" or "secret".
bool is_secret_key(std::string_view name) noexcept;

// Key names are letters, digits, '_' and '-'.
bool is_valid_key_name(std::string_view name) noexcept;

}  // namespace zmproxy::localconfig

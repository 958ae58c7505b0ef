#pragma once
// The attribute registry: every attribute zmproxy knows, generated at build
// time from lib/schema/attributes.toml. Immutable, thread-safe, allocation
// free to query.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace zmproxy::schema {

enum class Type : std::uint8_t {
  boolean,
  integer,
  long_integer,
  port,
  duration,
  enumeration,
  string,
  astring,  // ASCII only
  email,
  id,      // a UUID
  binary,  // base64 text
  pem,     // PEM text (certificates, keys): ASCII, may span lines
};

// Entry kinds; a KindSet is a bit mask of them.
enum class Kind : std::uint8_t { global = 1, server = 2, domain = 4, account = 8 };
using KindSet = std::uint8_t;

// What a change of the attribute needs in a running proxy.
enum class Change : std::uint8_t { none, reload, rebind, restart };

struct Attribute {
  std::string_view name;  // canonical spelling
  Type type;
  bool multi;
  bool secret;
  KindSet kinds;    // entry kinds that may carry it
  KindSet inherit;  // kinds whose missing value falls back to globalConfig
  Change change;
  bool has_min;
  bool has_max;
  std::int64_t min;
  std::int64_t max;
  std::size_t maxlen;                          // 0 = no limit
  std::span<const std::string_view> values;    // enum values
  std::span<const std::string_view> defaults;  // globalConfig default values
  std::string_view description;

  bool allowed_on(Kind k) const noexcept { return (kinds & static_cast<KindSet>(k)) != 0; }
  bool inherits(Kind k) const noexcept { return (inherit & static_cast<KindSet>(k)) != 0; }
};

// Every attribute, sorted by lower-cased name.
std::span<const Attribute> all() noexcept;

// Case-insensitive lookup; nullptr when unknown.
const Attribute* find(std::string_view name) noexcept;

// The closest known name for a misspelt one, or "" when none is close.
std::string_view suggest(std::string_view unknown);

std::string_view type_name(Type t) noexcept;
std::string_view kind_name(Kind k) noexcept;
std::string_view change_name(Change c) noexcept;
std::optional<Kind> parse_kind(std::string_view name) noexcept;
std::string kinds_text(KindSet kinds);  // "globalConfig, server"

}  // namespace zmproxy::schema

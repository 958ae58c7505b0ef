#pragma once
// One line of memcached's key dump, parsed. memcached 1.4.31 and later answer
// `lru_crawler metadump hash` and `... all` (text protocol) with one line per live key,
//   key=<key, URL-encoded> exp=<unix time, -1: never> la=<...> cas=<...> ...
// ended by "\n" (no CR), and a final "END\r\n". The only way to list the keys
// of a memcached server: libmemcached has no call for it.
//
// A line is taken only when the key decodes to a key a command may carry
// (route::is_safe_key: no space, control byte or DEL, at most 250 bytes), so
// a server (or anything between it and us) cannot smuggle a second command
// into the `get`/`delete` the caller builds from the key.
//
// Thread affinity: none (pure functions).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::route {

struct MetadumpEntry {
  std::string key;                      // decoded: the key as `get` takes it
  std::optional<std::int64_t> expires;  // unix time on the server's clock; nullopt: never
};

// nullopt when `line` (without its line end) is not a dump line this parser
// understands: no "key=" first, a malformed %XX, a key not wire-safe, no
// "exp=" or an exp that is not a decimal (or -1).
std::optional<MetadumpEntry> parse_metadump_line(std::string_view line);

}  // namespace zmproxy::route

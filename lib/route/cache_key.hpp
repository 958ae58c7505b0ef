#pragma once
// Zimbra's memcached keys for the route cache (REFERENCE-zimbra §2.1), built
// by pure functions. The formats are Zimbra's, byte for byte, so purge tools
// and operators that know Zimbra's keys find ours.
//
// Every builder returns safe_key(...) output: the memcached text protocol ends
// a key at a space and a command at CR LF, so a login, Host header or URL part
// with such bytes must never reach the wire raw. This is our fix for Zimbra
// weak spot §9 #4 (cache poisoning through CR/LF in keys, ZBUG-2706), which
// Zimbra only patched with a template-level 403 on %0A/%0D.
//
// Thread affinity: none (pure functions).

#include <cstddef>
#include <string>
#include <string_view>

namespace zmproxy::route {

// memcached's limit for a key in the text protocol (protocol.txt).
inline constexpr std::size_t k_max_key_length = 250;

// Which web route a zimbraId key is for.
enum class RouteKind { web, admin, zx };

// route:proto=<protocol>;user=<user>
std::string route_key(std::string_view protocol, std::string_view user);

// route:proto=<p>;id=<id>, route:proto=<p>;admin=1;id=<id>, route:proto=<p>;zx=1;id=<id>
std::string route_id_key(std::string_view protocol, std::string_view zimbra_id, RouteKind kind);

// alias:user=<login>;ip=<ip> (mail) and alias:user=<login>;vhost=<host> (web)
std::string alias_key(std::string_view login, std::string_view ip);
std::string alias_vhost_key(std::string_view login, std::string_view vhost);

// Makes any byte string a valid memcached key:
//  1. every byte <= 0x20 (space, CR, LF, NUL and the other controls), 0x7f and
//     '%' itself becomes %XX (uppercase hex). Escaping '%' keeps the mapping
//     injective: "a b" -> "a%20b" while "a%20b" -> "a%2520b". Bytes >= 0x80
//     (UTF-8) are left as they are; memcached accepts them.
//  2. if the result is longer than k_max_key_length bytes, it is replaced by
//     the lowercase hex MD5 of the escaped key (32 chars), as Zimbra does.
std::string safe_key(std::string key);

// True if `key` can go on the wire as is: 1..k_max_key_length bytes, none of
// them <= 0x20 or 0x7f. safe_key() output always passes.
bool is_safe_key(std::string_view key) noexcept;

}  // namespace zmproxy::route

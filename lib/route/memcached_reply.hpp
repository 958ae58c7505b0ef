#pragma once
// The reply to one memcached text-protocol `get k1 k2 ...` (protocol.txt,
// "Retrieval command"), read by the worker's own client
// (memcached_reader.hpp) from bytes that anyone able to reach memcached may
// have shaped. Strict on purpose: a reply is believed only when it is exactly
//   ("VALUE <key> <flags> <bytes>[ <cas>]\r\n" <bytes of data> "\r\n")* "END\r\n"
// with each key one that was asked, each at most once and in the order asked
// (memcached answers in that order), decimal numbers of bounded size, a data
// block of at most `max_value` bytes, and nothing after END. Anything else
// (ERROR, SERVER_ERROR, CLIENT_ERROR, a key not asked, a line over
// k_max_header bytes, trailing bytes) is `bad`: the caller closes the
// connection and believes nothing of it.
//
// Thread affinity: none (pure).

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::route {

enum class GetReplyStatus { incomplete, complete, bad };

// The longest VALUE line accepted, CRLF excluded (a 250-byte key and the
// numbers fit).
inline constexpr std::size_t k_max_get_header = 320;

// Parses `reply` (all bytes received so far for one request). On complete,
// values[i] holds the value of keys[i] or nullopt when it was absent.
GetReplyStatus parse_get_reply(std::string_view reply,
                               std::span<const std::string> keys,
                               std::size_t max_value,
                               std::vector<std::optional<std::string>>& values);

}  // namespace zmproxy::route

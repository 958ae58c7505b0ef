#pragma once
// One HTTP/1.x request head as zmlookupd reads it, parsed in place: views
// into the caller's bytes, no allocation once `fields` has grown to the
// usual number of lines. What it accepts is what a lookup needs and what
// Beast's parser accepted here before: a request line, CRLF-terminated
// fields (no obsolete line folding), and no body (a Content-Length other
// than 0 or a Transfer-Encoding is invalid). Pure.

#include "lib/route/lookup_protocol.hpp"

#include <cstddef>
#include <string_view>

namespace zmproxy::route {

struct RequestHead {
  std::string_view method;
  std::string_view target;
  unsigned version = 11;  // 10 * major + minor
  bool keep_alive = true;
  HeaderViews fields;  // names as sent, values without surrounding blanks

  // The first field of that name (case-insensitive), or "" when none.
  std::string_view field(std::string_view name) const noexcept;
};

enum class HeadParse { complete, incomplete, invalid };

// Parses the head at the start of `in`; when complete, `size` is its length
// (through the blank line).
HeadParse parse_request_head(std::string_view in, RequestHead& head, std::size_t& size);

}  // namespace zmproxy::route

#pragma once
// Character classes of RFC 3501 the IMAP command parser and the command
// formatter share (standard library only).

#include <string_view>

#include "lib/core/strings.hpp"

namespace zmproxy::proxy::imap {

// RFC 3501 ATOM-CHAR plus resp-specials and list-wildcards (astring and
// list-mailbox chars): 0x21-0x7E except ( ) { " \ .
inline bool is_atom_char(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x21 || u > 0x7e) {
    return false;
  }
  return c != '(' && c != ')' && c != '{' && c != '"' && c != '\\';
}

inline bool is_nil(std::string_view s) noexcept {
  return s.size() == 3 && core::ascii_upper(s[0]) == 'N' && core::ascii_upper(s[1]) == 'I' &&
         core::ascii_upper(s[2]) == 'L';
}

}  // namespace zmproxy::proxy::imap

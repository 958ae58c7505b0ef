#pragma once
// Base64 (RFC 4648, standard alphabet, padded). Pure.

#include <optional>
#include <string>
#include <string_view>

namespace zmproxy::core {

std::string base64_encode(std::string_view bytes);
// nullopt for text that is not valid padded base64 (whitespace is not skipped).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace zmproxy::core

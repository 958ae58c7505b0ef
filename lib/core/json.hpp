#pragma once
// Minimal JSON text helpers for log lines and --json output. Pure.

#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::core {

// A JSON string literal, quotes included; control bytes escaped, UTF-8 kept.
std::string json_quote(std::string_view s);
// ["a","b"]
std::string json_array(const std::vector<std::string>& values);

}  // namespace zmproxy::core

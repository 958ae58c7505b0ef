#pragma once
// Minimal JSON text helpers for log lines and --json output. Pure.

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::core {

// A JSON string literal, quotes included; control bytes escaped, UTF-8 kept.
std::string json_quote(std::string_view s);
// ["a","b"]
std::string json_array(const std::vector<std::string>& values);
// A UTC time as JSON and logs show it: 2026-11-29T03:49:02Z.
std::string utc_iso8601(std::time_t t);

}  // namespace zmproxy::core

#pragma once
// The keys of conf/zmproxy.conf: one table per section (config_keys.cpp)
// that says, for every key, where its value goes and how it is checked. The
// unknown-key check and the reading both come from it, so a key is named
// once; man/zmproxy.conf.5 documents exactly these (tests/unit/config).

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "lib/config/proxy_config.hpp"
#include "lib/core/result.hpp"

namespace zmproxy::config {

// Parse `text` (TOML) and read every section into `c`, over its defaults.
// Errors are one line: the file, the line, the key and what is allowed.
// Checks that span keys are parse_config's.
Result<void> read_config_text(std::string_view text, const std::filesystem::path& file,
                              ProxyConfig& c);

// Every key the tables know, as "section.key", in table order.
std::vector<std::string> config_key_names();

}  // namespace zmproxy::config

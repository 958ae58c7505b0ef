#pragma once
// The daemons' log: one line per event, "time level component: message", to
// stderr (journald) or a file. Level-checked before formatting. Thread-safe.
// Never pass a password or token: callers log Secret-free text only.

#include <atomic>
#include <filesystem>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace zmproxy::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

Level parse_level(std::string_view name, Level fallback) noexcept;
void set_level(Level level) noexcept;
bool enabled(Level level) noexcept;
// Write to `file` (appending) instead of stderr; "" = stderr.
bool set_file(const std::filesystem::path& file);
// Open the log file again under its name (after logrotate renamed it, on
// SIGUSR1); false, and the old file kept, when it cannot be opened.
bool reopen_file();
void write(Level level, std::string_view component, std::string_view message);

template <typename... Args>
void logf(Level level, std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(level)) {
    write(level, component, fmt::format(f, std::forward<Args>(args)...));
  }
}

}  // namespace zmproxy::log

#define ZMPROXY_LOG(level, component, ...) \
  ::zmproxy::log::logf(::zmproxy::log::Level::level, component, __VA_ARGS__)

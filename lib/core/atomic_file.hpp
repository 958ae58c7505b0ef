#pragma once
// Whole-file reads and crash-safe writes. A write goes to a temporary file in
// the same directory, is fsync'ed, then renamed over the target, and the
// directory is fsync'ed: a reader sees the old file or the new one, never half.

#include "lib/core/result.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace zmproxy::core {

Result<std::string> read_file(const std::filesystem::path& path);

// mode is applied to the new file (e.g. 0640 for files holding secrets).
Result<void> write_file_atomic(const std::filesystem::path& path,
                               std::string_view content,
                               unsigned mode = 0644);

}  // namespace zmproxy::core

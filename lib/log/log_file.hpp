#pragma once
// Opening a log file for appending, the same way for every log the daemons
// keep (the error log, the access log), at start and at each reopen: its
// directory made if missing, never through a symlink (O_NOFOLLOW), mode 0640,
// and handed to the directory's owner when root creates it there
// (core::match_directory_owner).

#include <filesystem>

namespace zmproxy::log {

// The descriptor (close-on-exec), or -1 with errno set.
int open_log_file(const std::filesystem::path& file);

}  // namespace zmproxy::log

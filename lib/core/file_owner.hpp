#pragma once
// Files that root creates under a directory another user owns (the service
// user's log/, run/, conf/) are handed to that user, so the daemons that
// run as it can rewrite, reopen and remove them. No-op unless root.

#include <filesystem>

namespace zmproxy::core {

// Give the file open as `fd` to the owner (and group) of `file`'s directory
// when this process is root and that owner is not. A root-owned directory
// just below one of the user's (conf/confgen/ under conf/, created by root
// a moment ago) goes to the user too, with the file.
void match_directory_owner(int fd, const std::filesystem::path& file) noexcept;

}  // namespace zmproxy::core

#pragma once
// Reading a password so that it never has to be a command-line argument
// (visible to every user in `ps` and kept in shell history): from a terminal
// with a prompt and echo off, else as one line from a pipe or file.
//
// Thread affinity: blocking; for command-line tools only.

#include <cstddef>
#include <string>
#include <string_view>

#include "lib/core/result.hpp"

namespace zmproxy::core {

inline constexpr std::size_t k_max_password_length = 4096;

// From `fd`: when it is a terminal, write `prompt` to it, read one line with
// echo off (the terminal restored afterwards) and, with `confirm`, a second
// one that must match; otherwise read one line (up to LF, a CR before it
// dropped, at most k_max_password_length bytes). Errors are one line: end of
// input before a line, a line too long, confirmation that differs.
Result<std::string> read_password(int fd, std::string_view prompt, bool confirm);

}  // namespace zmproxy::core

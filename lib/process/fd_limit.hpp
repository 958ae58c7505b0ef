#pragma once
// The open-file limit at start: the soft RLIMIT_NOFILE raised to the hard
// one (a proxy holds two descriptors a session, client and upstream), and a
// warning when even the hard limit is below what the configuration may need.

#include <cstdint>
#include <string>

namespace zmproxy::process {

struct FdLimit {
  std::uint64_t soft = 0;  // after raising
  std::uint64_t hard = 0;
  std::string warning;     // "" when `needed` fits
};

// Raise the soft limit to the hard one; `needed`: the descriptors the
// workers may use (workers x worker_connections). `who` names the daemon
// and `setting` what to lower in the warning.
FdLimit raise_fd_limit(std::uint64_t needed, const std::string& who, const std::string& setting);

}  // namespace zmproxy::process

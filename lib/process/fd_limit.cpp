#include "lib/process/fd_limit.hpp"

#include <sys/resource.h>

#include <fmt/format.h>

namespace zmproxy::process {

FdLimit raise_fd_limit(std::uint64_t needed, const std::string& who, const std::string& setting) {
  FdLimit out;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    return out;
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      rl = raised;
    }
  }
  out.soft = rl.rlim_cur;
  out.hard = rl.rlim_max;
  // A few for logs, sockets of the control thread, memcached and lookups.
  constexpr std::uint64_t k_reserve = 64;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < needed + k_reserve) {
    out.warning = fmt::format(
        "{}: the open-file limit is {} but {} descriptors may be needed ({}); raise the limit "
        "(LimitNOFILE= in the service unit, ulimit -Hn) or lower the setting",
        who, rl.rlim_cur, needed + k_reserve, setting);
  }
  return out;
}

}  // namespace zmproxy::process

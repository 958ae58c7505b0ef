#include "lib/core/home.hpp"

#include <cstdlib>

namespace zmproxy::core {

namespace {

// Absolute, so that paths handed between processes (control sockets,
// candidate files) do not depend on anyone's working directory.
std::filesystem::path made_absolute(const std::filesystem::path& p) {
  std::error_code ec;
  auto a = std::filesystem::absolute(p, ec);
  return ec ? p : a.lexically_normal();
}

}  // namespace

std::filesystem::path resolve_home(std::string_view from_option) {
  if (!from_option.empty()) {
    return made_absolute(std::filesystem::path(from_option));
  }
  if (const char* env = std::getenv("ZMPROXY_HOME"); env != nullptr && *env != '\0') {
    return made_absolute(std::filesystem::path(env));
  }
  return std::filesystem::path(k_default_home);
}

}  // namespace zmproxy::core

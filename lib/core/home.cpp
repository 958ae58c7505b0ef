#include "lib/core/home.hpp"

#include <cstdlib>

namespace zmproxy::core {

std::filesystem::path resolve_home(std::string_view from_option) {
  if (!from_option.empty()) {
    return std::filesystem::path(from_option);
  }
  if (const char* env = std::getenv("ZMPROXY_HOME"); env != nullptr && *env != '\0') {
    return std::filesystem::path(env);
  }
  return std::filesystem::path(k_default_home);
}

}  // namespace zmproxy::core

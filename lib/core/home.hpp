#pragma once
// The runtime home: every file an installation writes lives under it
// (conf/, data/, log/, run/). Chosen by --home, else $ZMPROXY_HOME, else
// /opt/zmproxy.

#include <filesystem>
#include <string_view>

namespace zmproxy::core {

inline constexpr std::string_view k_default_home = "/opt/zmproxy";

std::filesystem::path resolve_home(std::string_view from_option);

struct HomePaths {
  std::filesystem::path home;
  std::filesystem::path conf() const { return home / "conf"; }
  std::filesystem::path data() const { return home / "data"; }
  std::filesystem::path log() const { return home / "log"; }
  std::filesystem::path run() const { return home / "run"; }
  std::filesystem::path localconfig() const { return conf() / "localconfig.toml"; }
};

}  // namespace zmproxy::core

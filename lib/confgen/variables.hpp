#pragma once
// The variables confgen substitutes, from the store and localconfig:
//  * every proxy-relevant attribute (registry change != none) by its name,
//    with this server's effective value (server, else globalConfig, else the
//    registry default), as a TOML value;
//  * `global.<attr>` for globalConfig's own values;
//  * every localconfig key, TOML-escaped and unquoted;
//  * derived lists and switches (route.handlers, route.memcached,
//    http.upstreams, http.server_names, ssl.crt, ...).
// Certificates held in attributes become files under conf/ (OutputFile).

#include "lib/confgen/template.hpp"
#include "lib/core/result.hpp"
#include "lib/localconfig/localconfig.hpp"
#include "lib/provisioning/provisioning.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace zmproxy::confgen {

struct OutputFile {
  std::filesystem::path path;  // relative to the home
  std::string content;
  bool secret = false;  // 0600
  std::string
      attribute;  // where it came from, for errors ("domain example.com zimbraSSLCertificate")
};

struct Collected {
  Variables vars;
  std::vector<OutputFile> files;
  std::vector<std::string>
      notes;  // things an admin should know (no server entry, no lookup handler)
};

Result<Collected> collect_variables(provisioning::Provisioning& prov,
                                    const localconfig::LocalConfig& lc,
                                    std::string_view server_name);

}  // namespace zmproxy::confgen

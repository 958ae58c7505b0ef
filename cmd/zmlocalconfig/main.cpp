// zmlocalconfig: show and change conf/localconfig.toml. Arguments only; the
// behaviour is zmproxy::localconfig::run_command.

#include "lib/core/home.hpp"
#include "lib/core/version.hpp"
#include "lib/localconfig/command.hpp"

#include "cmd/common/cli.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
  using namespace zmproxy;
  CLI::App app{"Show or change the local configuration (conf/localconfig.toml)", "zmlocalconfig"};
  app.set_version_flag("--version", std::string("zmlocalconfig (zmproxy) ") + k_version);
  localconfig::CommandOptions o;
  std::string home;
  app.add_option("--home", home, "Runtime home (default: $ZMPROXY_HOME, else /opt/zmproxy)");
  app.add_flag("-e,--edit", o.edit, "Set the key=value pairs given as arguments");
  app.add_flag("-u,--unset", o.unset, "Remove the given keys from the file");
  app.add_flag("-d,--default", o.defaults, "Show default values");
  app.add_flag("-n,--changed", o.changed, "Show only keys changed from their defaults");
  app.add_flag("-i,--info", o.info, "Describe the keys");
  app.add_flag("-s,--show", o.show_secrets, "Show passwords instead of *");
  app.add_flag("-x,--expand", o.expand, "Expand ${key} references");
  app.add_option("-m,--format", o.format, "Output format: plain, shell, export or nokey");
  app.add_flag("-p,--path", o.path, "Print the path of the localconfig file");
  app.add_flag("-q,--quiet", o.quiet, "Do not print notes");
  app.add_option("args", o.args, "Keys to show, or key=value pairs with -e");

  const auto dynamic = [](std::string_view option, const std::vector<std::string>& words) {
    if (option == "format") {
      return std::vector<std::string>{"plain", "shell", "export", "nokey"};
    }
    if (option.empty()) {
      return localconfig::completion_keys(core::resolve_home(cli::option_value(words, "home")));
    }
    return std::vector<std::string>{};
  };
  return cli::run(
      app, argc, argv,
      [&] {
        o.home = core::resolve_home(home);
        return localconfig::run_command(o, std::cout, std::cerr);
      },
      dynamic);
}

#include "cmd/common/cli.hpp"

#include <CLI/CLI.hpp>

#include "lib/log/logger.hpp"

#include <algorithm>
#include <exception>
#include <iostream>
#include <set>

namespace zmproxy::cli {

namespace {

const CLI::Option* find_option(const CLI::App& app, std::string_view word) {
  for (const CLI::Option* opt : app.get_options()) {
    for (const auto& n : opt->get_lnames()) {
      if (word == "--" + n) {
        return opt;
      }
    }
    for (const auto& n : opt->get_snames()) {
      if (word == "-" + n) {
        return opt;
      }
    }
  }
  return nullptr;
}

std::string long_name(const CLI::Option* opt) {
  const auto& l = opt->get_lnames();
  if (!l.empty()) {
    return l.front();
  }
  const auto& s = opt->get_snames();
  return s.empty() ? std::string() : s.front();
}

}  // namespace

std::string option_value(const std::vector<std::string>& words, std::string_view name) {
  const std::string flag = "--" + std::string(name);
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == flag && i + 1 < words.size()) {
      return words[i + 1];
    }
    if (words[i].rfind(flag + "=", 0) == 0) {
      return words[i].substr(flag.size() + 1);
    }
  }
  return {};
}

std::vector<std::string> complete(const CLI::App& app,
                                  const std::vector<std::string>& words,
                                  const DynamicCompletion& dynamic) {
  const std::string cur = words.empty() ? std::string() : words.back();
  const std::string prev = words.size() >= 2 ? words[words.size() - 2] : std::string();
  std::set<std::string> candidates;

  const CLI::Option* prev_opt = prev.rfind('-', 0) == 0 ? find_option(app, prev) : nullptr;
  if (prev_opt != nullptr && prev_opt->get_items_expected_min() > 0) {
    if (dynamic) {
      for (auto& c : dynamic(long_name(prev_opt), words)) {
        candidates.insert(std::move(c));
      }
    }
  } else if (cur.rfind('-', 0) == 0) {
    for (const CLI::Option* opt : app.get_options()) {
      if (opt->get_group().empty()) {
        continue;  // hidden
      }
      for (const auto& n : opt->get_lnames()) {
        candidates.insert("--" + n);
      }
      for (const auto& n : opt->get_snames()) {
        candidates.insert("-" + n);
      }
    }
  } else if (dynamic) {
    for (auto& c : dynamic("", words)) {
      candidates.insert(std::move(c));
    }
  }

  std::vector<std::string> out;
  for (const auto& c : candidates) {
    if (c.rfind(cur, 0) == 0) {
      out.push_back(c);
    }
  }
  return out;
}

int run(CLI::App& app,
        int argc,
        char** argv,
        const std::function<int()>& body,
        const DynamicCompletion& dynamic) {
  const std::string tool = app.get_name();
  try {
    if (argc >= 2 && std::string_view(argv[1]) == "__complete") {
      std::vector<std::string> words(argv + 2, argv + argc);
      if (words.empty()) {
        words.emplace_back();
      }
      for (const auto& c : complete(app, words, dynamic)) {
        std::cout << c << '\n';
      }
      return k_exit_ok;
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      app.exit(e);
      return k_exit_ok;
    } catch (const CLI::CallForAllHelp& e) {
      app.exit(e);
      return k_exit_ok;
    } catch (const CLI::CallForVersion& e) {
      app.exit(e);
      return k_exit_ok;
    } catch (const CLI::ParseError& e) {
      std::cerr << tool << ": " << e.what() << "; see '" << tool << " --help'\n";
      return k_exit_usage;
    }
    return body();
  } catch (const std::exception& e) {
    std::cerr << tool << ": error: " << e.what() << '\n';
    return k_exit_failed;
  }
}

void add_log_options(CLI::App& app, std::string& file, std::string& level) {
  app.add_option("--log", file, "Log to this file instead of standard error");
  app.add_option("--log-level", level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
}

std::vector<std::string> complete_log_level(std::string_view option, const std::vector<std::string>&) {
  if (option == "log-level") {
    return {"debug", "info", "warn", "error"};
  }
  return {};
}

bool start_log(std::string_view tool, const std::string& file, const std::string& level) {
  log::set_level(log::parse_level(level, log::Level::info));
  if (!file.empty() && !log::set_file(file)) {
    std::cerr << tool << ": cannot open log file " << file << "\n";
    return false;
  }
  return true;
}

}  // namespace zmproxy::cli

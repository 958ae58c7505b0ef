#pragma once
// What every tool's main shares: the hidden `__complete` command behind the
// shell completions, CLI11 parsing with exit codes 0 ok / 1 failed / 2 usage,
// and one catch-all that turns an escaped exception into one line.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace zmproxy::cli {

// Candidates for a word the generic walker cannot know: `option` is the long
// name of the option whose value is being completed (e.g. "format"), or ""
// for a positional argument; `words` are the words typed so far, the last
// one being the partial word.
using DynamicCompletion = std::function<std::vector<std::string>(
    std::string_view option, const std::vector<std::string>& words)>;

// The completion candidates for `words` (everything after the tool name).
std::vector<std::string> complete(const CLI::App& app,
                                  const std::vector<std::string>& words,
                                  const DynamicCompletion& dynamic);

// Parse argv into `app` and run `body`. Handles `tool __complete words...`.
int run(CLI::App& app,
        int argc,
        char** argv,
        const std::function<int()>& body,
        const DynamicCompletion& dynamic = {});

// Exit codes shared by every tool (zmprov keeps Zimbra's own).
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failed = 1;
inline constexpr int k_exit_usage = 2;

// The value of `--name X` / `--name=X` among words, or "".
std::string option_value(const std::vector<std::string>& words, std::string_view long_name);

// The daemons' `--log FILE` and `--log-level LEVEL` (default "info"), the
// completion of the level, and applying both once parsed: false, after one
// line on standard error, when the log file cannot be opened.
void add_log_options(CLI::App& app, std::string& file, std::string& level);
std::vector<std::string> complete_log_level(std::string_view option, const std::vector<std::string>& words);
bool start_log(std::string_view tool, const std::string& file, const std::string& level);

}  // namespace zmproxy::cli

#pragma once
// confgen: render conf/zmproxy.conf from templates/zmproxy.conf.template (or
// an admin's override in conf/templates.d/) with the variables of this
// server, validate it, and put it in place:
//
//   generate()  store + localconfig -> Rendered (text, variables, files)
//   validate()  the text parses as zmproxy.conf, the certificates are
//               readable and match their keys, the ports are distinct and
//               not taken by another program; errors name the attribute
//   install()   write certificate files; when the text differs (or `force`),
//               hand it to a running zmproxyd as a candidate (RELOAD <file>:
//               it becomes conf/zmproxy.conf only when the proxy accepts it),
//               or, with no proxy running, rename it into place.
//
// zmproxyctl (genconf, start, reload) and zmconfigd share these steps.

#include "lib/confgen/variables.hpp"
#include "lib/core/home.hpp"
#include "lib/core/result.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace zmproxy::confgen {

struct Rendered {
  std::string text;
  Collected collected;
  std::filesystem::path template_file;
  std::map<std::string, std::string> key_sources;  // "imap.port" -> "zimbraImapProxyBindPort"
  // `text` with every secret (route secret, passwords) masked: what tools
  // print (zmproxyctl genconf --dry-run); `text` is only ever installed.
  std::string masked_text;
};

// The shipped templates: $ZMPROXY_TEMPLATE_DIR, else <exe>/../share/zmproxy/templates.
std::filesystem::path shipped_template_dir();
// The template used: conf/templates.d/<name> when present, else the shipped one.
std::filesystem::path template_path(const core::HomePaths& home, std::string_view name);

// `server`: "" = localconfig zimbra_server_hostname.
Result<Rendered> generate(const core::HomePaths& home, std::string_view server);

Result<void> validate(const Rendered& r, const core::HomePaths& home);

// Add the attribute behind each configuration key a message names
// ("imap.port" -> "imap.port (zimbraImapProxyBindPort)").
std::string explain(const Rendered& r, std::string message);

enum class Outcome { unchanged, written, reloaded };
struct Installed {
  Outcome outcome;
  std::string message;  // "generation 4 version ..." or what was written
};
Result<Installed> install(const Rendered& r, const core::HomePaths& home, bool force);

// Keep the last decision in run/confgen.state (one JSON object) for
// `zmproxyctl status`: a change refused here never reaches zmproxyd.
// `by`: "zmconfigd (store: ...)", "zmproxyctl reload", ...
void record_outcome(const core::HomePaths& home,
                    std::string_view by,
                    std::string_view result,
                    std::string_view message);

// Ask a running zmproxyd to read its configuration again; unavailable when
// none runs.
Result<std::string> reload_proxy(const core::HomePaths& home);

}  // namespace zmproxy::confgen

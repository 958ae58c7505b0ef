#include "lib/confgen/confgen.hpp"

#include "lib/confgen/secret_variables.hpp"

#include <signal.h>
#include <unistd.h>

#include "lib/core/atomic_file.hpp"
#include "lib/core/file_lock.hpp"
#include "lib/core/json.hpp"
#include "lib/core/pid_file.hpp"
#include "lib/localconfig/localconfig.hpp"
#include "lib/provisioning/open_store.hpp"
#include "lib/config/proxy_config.hpp"
#include "lib/net/control_socket.hpp"
#include "lib/server/generation.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <ctime>
#include <optional>

namespace zmproxy::confgen {

namespace {

constexpr std::string_view k_template = "zmproxy.conf.template";

std::filesystem::path conf_file(const core::HomePaths& home) {
  return home.conf() / "zmproxy.conf";
}

// A PEM certificate and key given as text: both parse and belong together.
Result<void> check_pair(const OutputFile& crt, const OutputFile& key) {
  struct Bio {
    BIO* b;
    ~Bio() { BIO_free(b); }
  };
  Bio cb{BIO_new_mem_buf(crt.content.data(), static_cast<int>(crt.content.size()))};
  Bio kb{BIO_new_mem_buf(key.content.data(), static_cast<int>(key.content.size()))};
  X509* x = PEM_read_bio_X509(cb.b, nullptr, nullptr, nullptr);
  if (x == nullptr) {
    return fail(Errc::invalid_argument, crt.attribute +
                                            " is not a PEM certificate; set it again with the "
                                            "certificate's PEM text");
  }
  EVP_PKEY* k = PEM_read_bio_PrivateKey(kb.b, nullptr, nullptr, nullptr);
  if (k == nullptr) {
    X509_free(x);
    return fail(Errc::invalid_argument,
                key.attribute +
                    " is not a PEM private key (or it is encrypted); set it "
                    "again with the unencrypted key");
  }
  const bool match = X509_check_private_key(x, k) == 1;
  X509_free(x);
  EVP_PKEY_free(k);
  if (!match) {
    return fail(Errc::invalid_argument, key.attribute + " does not match " + crt.attribute +
                                            "; set the certificate and its key together");
  }
  return {};
}

}  // namespace

std::filesystem::path shipped_template_dir() {
  if (const char* env = std::getenv("ZMPROXY_TEMPLATE_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return exe.parent_path().parent_path() / "share" / "zmproxy" / "templates";
}

std::filesystem::path template_path(const core::HomePaths& home, std::string_view name) {
  const auto override_file = home.conf() / "templates.d" / name;
  std::error_code ec;
  if (std::filesystem::exists(override_file, ec)) {
    return override_file;
  }
  return shipped_template_dir() / name;
}

Result<Rendered> generate(const core::HomePaths& home, std::string_view server) {
  auto lc = localconfig::LocalConfig::load(home.localconfig(), home.home);
  if (!lc) {
    return tl::unexpected(lc.error());
  }
  const std::string name =
      server.empty() ? lc->value_or_empty("zimbra_server_hostname") : std::string(server);
  auto store = provisioning::open_store(*lc, home);
  if (!store) {
    return tl::unexpected(store.error());
  }
  provisioning::Provisioning prov(**store, provisioning::safeguarded_attrs(*lc));
  auto collected = collect_variables(prov, *lc, name);
  if (!collected) {
    return tl::unexpected(collected.error());
  }
  Rendered r;
  r.template_file = template_path(home, k_template);
  auto text = core::read_file(r.template_file);
  if (!text) {
    return fail(Errc::not_found, "template " + r.template_file.string() +
                                     " is missing; reinstall zmproxy or set ZMPROXY_TEMPLATE_DIR");
  }
  auto rendered = render(*text, collected->vars, r.template_file.string());
  if (!rendered) {
    return tl::unexpected(rendered.error());
  }
  r.text = std::move(*rendered);
  auto masked = render(*text, masked_variables(collected->vars), r.template_file.string());
  r.masked_text = masked ? std::move(*masked) : std::string();
  r.collected = std::move(*collected);
  r.key_sources = key_sources(*text);
  return r;
}

std::string explain(const Rendered& r, std::string message) {
  // Longest keys first, so "http.ssl_port" is not taken for "http.port".
  std::vector<std::pair<std::string, std::string>> keys(r.key_sources.begin(), r.key_sources.end());
  std::sort(keys.begin(), keys.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  // Derived variables name the attribute behind them.
  static const std::map<std::string, std::string, std::less<>> k_derived = {
      {"ssl.crt", "conf/zmproxy.crt or zimbraSSLCertificate"},
      {"ssl.key", "conf/zmproxy.key or zimbraSSLPrivateKey"},
      {"http.enabled", "zimbraReverseProxyHttpEnabled"},
      {"http.mode", "zimbraReverseProxyMailMode"},
      {"http.admin_enabled", "zimbraReverseProxyAdminEnabled"},
      {"route.handlers", "zimbraReverseProxyLookupTarget"},
      {"route.memcached", "zimbraServiceEnabled memcached"},
      {"route.mailbox_servers", "the server entries' mail and web ports"},
      {"tls.domain_certificates", "the domains' zimbraSSLCertificate"},
      {"http.domain_client_certs", "the domains' zimbraReverseProxyClientCertMode and zimbraReverseProxyClientCertCA"}};
  for (auto& [key, variable] : keys) {
    if (const auto d = k_derived.find(variable); d != k_derived.end()) {
      variable = d->second;
    }
  }
  for (const auto& [key, variable] : keys) {
    const auto at = message.find(key);
    if (at == std::string::npos || variable.starts_with("zmproxy_") ||
        message.find(variable) != std::string::npos) {
      continue;
    }
    // Whole words only: "imap.port" in "subimap.port" or "imap.port.bak" is not the key.
    const char after = at + key.size() < message.size() ? message[at + key.size()] : ' ';
    const char before = at > 0 ? message[at - 1] : ' ';
    const auto word = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
    };
    if (word(after) || word(before)) {
      continue;
    }
    message.insert(at + key.size(), " (" + variable + ")");
    break;
  }
  return message;
}

Result<void> validate(const Rendered& r, const core::HomePaths& home) {
  // Certificates from attributes: checked in memory, before any file is written.
  const auto& files = r.collected.files;
  // A certificate is followed by its key (secret); CA files stand alone.
  for (std::size_t i = 0; i + 1 < files.size(); ++i) {
    if (files[i].secret || !files[i + 1].secret) {
      continue;
    }
    if (auto ok = check_pair(files[i], files[i + 1]); !ok) {
      return ok;
    }
    ++i;
  }
  auto config = config::parse_config(r.text, conf_file(home), home.home);
  if (!config) {
    return fail(Errc::invalid_argument, explain(r, config.error().message));
  }
  const config::ProxyConfig& c = **config;
  if (c.http.enabled && c.http.mode != "https" && c.http.port == 0) {
    return fail(Errc::invalid_argument,
                "zimbraReverseProxyMailMode " + c.http.mode +
                    " needs an HTTP port but zimbraMailProxyPort is 0; set it (e.g. 80)");
  }
  if (c.http.enabled && c.http.mode != "http" && c.http.ssl_port == 0) {
    return fail(Errc::invalid_argument,
                "zimbraReverseProxyMailMode " + c.http.mode +
                    " needs an HTTPS port but zimbraMailSSLProxyPort is 0; set it (e.g. 443)");
  }
  if (auto ok = server::check_ports_free(c, server::held_ports(home.run() / "zmproxyd.addr"));
      !ok) {
    return fail(Errc::invalid_argument, explain(r, ok.error().message));
  }
  // Certificate files an admin installed. Those rendered from attributes were
  // checked in memory above; install() writes them and checks again.
  config::ProxyConfig installed = c;
  bool main_cert_rendered = false;
  for (const OutputFile& f : files) {
    auto on_disk = core::read_file(home.home / f.path);
    if (on_disk && *on_disk == f.content) {
      continue;
    }
    installed.tls.domain_certificates.clear();
    installed.http.domain_client_certs.clear();
    if (home.home / f.path == c.path(c.tls.certificate) ||
        home.home / f.path == c.path(c.tls.key)) {
      main_cert_rendered = true;
    }
  }
  if (!main_cert_rendered) {
    if (auto ok = server::check_tls(installed); !ok) {
      return fail(Errc::invalid_argument, explain(r, ok.error().message));
    }
  }
  return {};
}

namespace {

// Files written for a candidate, with what they held before, so that a
// configuration the proxy refuses leaves nothing of itself behind.
struct WrittenFiles {
  std::vector<std::pair<std::filesystem::path, std::optional<std::string>>> before;
  std::vector<bool> secret;

  void roll_back() {
    for (std::size_t i = 0; i < before.size(); ++i) {
      std::error_code ec;
      if (before[i].second) {
        (void)core::write_file_atomic(before[i].first, *before[i].second, secret[i] ? 0600 : 0644);
      } else {
        std::filesystem::remove(before[i].first, ec);
      }
    }
    before.clear();
  }
};

}  // namespace

Result<Installed> install(const Rendered& r, const core::HomePaths& home, bool force) {
  // zmconfigd and zmproxyctl may both install: one at a time.
  auto lock = core::FileLock::acquire(home.run() / "confgen.lock");
  if (!lock) {
    return tl::unexpected(lock.error());
  }
  if (auto ok = validate(r, home); !ok) {
    return tl::unexpected(ok.error());
  }
  WrittenFiles written;
  for (const OutputFile& f : r.collected.files) {
    const auto path = home.home / f.path;
    auto current = core::read_file(path);
    if (current && *current == f.content) {
      continue;
    }
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    written.before.emplace_back(path,
                                current ? std::optional<std::string>(*current) : std::nullopt);
    written.secret.push_back(f.secret);
    if (auto w = core::write_file_atomic(path, f.content, f.secret ? 0600 : 0644); !w) {
      written.roll_back();
      return tl::unexpected(w.error());
    }
  }
  const bool files_changed = !written.before.empty();
  // The proxy's own certificate files may be in place only now.
  {
    auto config = config::parse_config(r.text, conf_file(home), home.home);
    if (auto ok = server::check_tls(**config); !ok) {
      written.roll_back();
      return fail(Errc::invalid_argument, explain(r, ok.error().message));
    }
  }
  const auto target = conf_file(home);
  auto current = core::read_file(target);
  if (current && *current == r.text && !files_changed && !force) {
    return Installed{Outcome::unchanged, "configuration unchanged"};
  }
  const auto next = home.conf() / "zmproxy.conf.next";
  if (auto w = core::write_file_atomic(next, r.text, 0640); !w) {
    written.roll_back();
    return tl::unexpected(w.error());
  }
  const auto pid = core::running_pid(home.run() / "zmproxyd.pid");
  std::error_code ec;
  if (pid) {
    auto reply = net::control_command(home.run() / "zmproxyd.sock", "RELOAD " + next.string(),
                                      std::chrono::seconds(60));
    if (reply && reply->ok) {
      return Installed{Outcome::reloaded, reply->text.empty() ? std::string("reloaded") : reply->text};
    }
    if (!reply) {
      // Running but not answering: never pretend the change is live.
      written.roll_back();
      std::filesystem::remove(next, ec);
      return fail(Errc::unavailable, "zmproxyd (pid " + std::to_string(*pid) +
                                         ") is running but did not take the new configuration: " +
                                         reply.error().message +
                                         "; try again, or restart it with zmproxyctl restart");
    }
    if (!reply->text.starts_with("zmproxyd is stopping")) {
      written.roll_back();
      std::filesystem::rename(next, home.conf() / "zmproxy.conf.rejected", ec);
      return fail(Errc::invalid_argument,
                  "zmproxyd refused the new configuration and keeps serving the previous "
                  "one (see conf/zmproxy.conf.rejected): " +
                      explain(r, reply->text));
    }
  }
  // No proxy running (or it is stopping): the file is put in place for the
  // next start.
  std::filesystem::rename(next, target, ec);
  if (ec) {
    written.roll_back();
    return fail(Errc::io_error,
                "cannot rename " + next.string() + " to " + target.string() + ": " + ec.message());
  }
  return Installed{Outcome::written, "wrote " + target.string()};
}

void record_outcome(const core::HomePaths& home,
                    std::string_view by,
                    std::string_view result,
                    std::string_view message) {
  const std::string state = "{\"at\":" + core::json_quote(core::utc_iso8601(std::time(nullptr))) +
                            ",\"by\":" + core::json_quote(by) +
                            ",\"result\":" + core::json_quote(result) +
                            ",\"message\":" + core::json_quote(message) + "}\n";
  std::error_code ec;
  std::filesystem::create_directories(home.run(), ec);
  (void)core::write_file_atomic(home.run() / "confgen.state", state);
}

Result<std::string> reload_proxy(const core::HomePaths& home) {
  auto reply =
      net::control_command(home.run() / "zmproxyd.sock", "RELOAD", std::chrono::seconds(60));
  if (!reply) {
    return tl::unexpected(reply.error());
  }
  if (!reply->ok) {
    return fail(Errc::invalid_argument, reply->text);
  }
  return reply->text;
}

}  // namespace zmproxy::confgen

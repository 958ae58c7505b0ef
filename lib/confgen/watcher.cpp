#include "lib/confgen/watcher.hpp"

#include "lib/confgen/confgen.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/core/json.hpp"
#include "lib/core/pid_file.hpp"
#include "lib/localconfig/localconfig.hpp"
#include "lib/log/logger.hpp"
#include "lib/net/asio.hpp"
#include "lib/provisioning/change_feed.hpp"
#include "lib/provisioning/file_change_feed.hpp"
#include "lib/net/control_socket.hpp"

#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <ctime>

namespace zmproxy::confgen {

namespace asio = net::asio;

struct ConfigWatcher::Impl {
  WatcherOptions options;
  asio::io_context io{1};
  asio::steady_timer debounce{io};
  asio::steady_timer safety{io};
  bool pending = false;
  std::string reasons;  // what changed since the last render
  std::string ldap_url;
  std::unique_ptr<provisioning::ChangeFeed> store_feed;
  provisioning::FileChangeFeed lc_feed;
  provisioning::FileChangeFeed template_feed;
  std::uint64_t renders = 0;
  std::string state = "{}";
  // Whether the store changed since the last render (FORGET ALL is owed to
  // zmproxyd), how many FORGETs it answered, and its last answer.
  bool store_changed = false;
  std::uint64_t forgets = 0;
  std::string last_forget;

  explicit Impl(WatcherOptions o)
      : options(std::move(o)),
        lc_feed(options.home.localconfig()),
        template_feed(options.home.conf() / "templates.d" / "zmproxy.conf.template") {}

  // From any thread: note the change and (re)arm the quiet period.
  void changed(std::string what) {
    asio::post(io, [this, what = std::move(what)] {
      store_changed = store_changed || what.starts_with("store: ");
      if (reasons.size() < 512) {
        reasons += (reasons.empty() ? "" : "; ") + what;
      }
      pending = true;
      debounce.expires_after(options.debounce);
      debounce.async_wait([this](boost::system::error_code ec) {
        if (!ec && pending) {
          render("change");
        }
      });
    });
  }

  std::chrono::milliseconds interval() const {
    if (options.interval.count() > 0) {
      return options.interval;
    }
    auto lc = localconfig::LocalConfig::load(options.home.localconfig(), options.home.home);
    const long long s = lc ? lc->integer("zmconfigd_interval", 60) : 60;
    return std::chrono::seconds(s > 0 ? s : 60);
  }

  void arm_safety() {
    safety.expires_after(interval());
    safety.async_wait([this](boost::system::error_code ec) {
      if (!ec) {
        render("safety re-read");
        arm_safety();
      }
    });
  }

  // (Re)open the store's feed when ldap_url changed (or at start).
  void follow_store() {
    auto lc = localconfig::LocalConfig::load(options.home.localconfig(), options.home.home);
    if (!lc) {
      ZMPROXY_LOG(error, "zmconfigd", "{}", lc.error().message);
      return;
    }
    const std::string url = lc->value_or_empty("ldap_url");
    if (store_feed && url == ldap_url) {
      return;
    }
    if (store_feed) {
      store_feed->stop();
      store_feed.reset();
    }
    ldap_url = url;
    auto feed = provisioning::open_change_feed(*lc, options.home);
    if (!feed) {
      ZMPROXY_LOG(error, "zmconfigd", "cannot follow the store: {}; re-reading every {} s only",
                  feed.error().message, interval().count() / 1000);
      return;
    }
    store_feed = std::move(*feed);
    if (auto ok = store_feed->start(
            [this](std::string_view what) { changed("store: " + std::string(what)); });
        !ok) {
      ZMPROXY_LOG(error, "zmconfigd", "cannot follow the store: {}", ok.error().message);
      store_feed.reset();
      return;
    }
    ZMPROXY_LOG(info, "zmconfigd", "following the store ({})", store_feed->describe());
  }

  // Render, and when the result differs, validate and hand it to zmproxyd.
  std::string render(std::string_view trigger) {
    const std::string why = reasons.empty() ? std::string(trigger) : reasons;
    pending = false;
    reasons.clear();
    if (std::exchange(store_changed, false)) {
      forget_routes(why);
    }
    ++renders;
    std::string result;
    std::string message;
    auto rendered = generate(options.home, "");
    if (!rendered) {
      result = "error";
      message = rendered.error().message;
    } else {
      auto installed = install(*rendered, options.home, false);
      if (!installed) {
        result = "refused";
        message = installed.error().message;
      } else {
        switch (installed->outcome) {
          case Outcome::unchanged:
            result = "unchanged";
            break;
          case Outcome::written:
            result = "written";
            break;
          case Outcome::reloaded:
            result = "reloaded";
            break;
        }
        message = installed->message;
      }
    }
    if (result == "unchanged") {
      ZMPROXY_LOG(debug, "zmconfigd", "{}: configuration unchanged", why);
    } else if (result == "reloaded" || result == "written") {
      ZMPROXY_LOG(info, "zmconfigd", "{}: configuration {}: {}", why, result, message);
    } else {
      ZMPROXY_LOG(error, "zmconfigd",
                  "{}: new configuration {}, the proxy keeps the previous one: {}", why, result,
                  message);
    }
    state = "{\"at\":" + core::json_quote(core::utc_iso8601(std::time(nullptr))) +
            ",\"trigger\":" + core::json_quote(why) + ",\"result\":" + core::json_quote(result) +
            ",\"message\":" + core::json_quote(message) +
            ",\"renders\":" + std::to_string(renders) + ",\"forgets\":" + std::to_string(forgets) +
            ",\"last_forget\":" + core::json_quote(last_forget) + "}";
    if (result != "unchanged") {
      record_outcome(options.home, "zmconfigd (" + why + ")", result, message);
    }
    return result + ": " + message;
  }

  // The store changed: zmproxyd's in-process routes may be stale (a moved
  // mailbox), whatever the configuration does. The feeds cannot name every
  // account a change concerns (the LDAP feed names the first entry of a
  // batch, a delete may name none, the file feed none; a server or domain
  // change moves many accounts), so zmproxyd forgets them all: its
  // in-process cache refills from memcached, which zmlookupd purges. No
  // reload: the configuration is rendered and compared as for any change.
  void forget_routes(const std::string& why) {
    if (!core::running_pid(options.home.run() / "zmproxyd.pid")) {
      return;  // nothing holds routes
    }
    auto reply = net::control_command(options.home.run() / "zmproxyd.sock", "FORGET ALL", std::chrono::seconds(5));
    if (reply && reply->ok) {
      ++forgets;
      last_forget = reply->text;
      ZMPROXY_LOG(info, "zmconfigd", "{}: zmproxyd {} in-process routes", why, reply->text);
      return;
    }
    last_forget = reply ? "ERROR " + reply->text : reply.error().message;
    ZMPROXY_LOG(warn, "zmconfigd",
                "{}: zmproxyd did not forget its in-process routes ({}); they expire within a minute", why,
                last_forget);
  }

  std::string command(std::string_view line) {
    const std::string_view verb = line.substr(0, line.find(' '));
    if (verb == "REWRITE") {
      const std::string r = render("REWRITE");
      const bool ok = !r.starts_with("error") && !r.starts_with("refused");
      return (ok ? "OK " : "ERROR ") + r;
    }
    if (verb == "STATUS") {
      return state;
    }
    return "ERROR unknown command; expected REWRITE or STATUS";
  }
};

ConfigWatcher::ConfigWatcher(WatcherOptions options)
    : m_impl(std::make_unique<Impl>(std::move(options))) {}

ConfigWatcher::~ConfigWatcher() = default;

int ConfigWatcher::run() {
  Impl& s = *m_impl;
  std::error_code ec;
  std::filesystem::create_directories(s.options.home.run(), ec);
  auto control =
      net::ControlSocket::open(s.io, s.options.home.run() / "zmconfigd.sock",
                                  [&s](std::string_view line) { return s.command(line); });
  if (!control) {
    ZMPROXY_LOG(error, "zmconfigd", "{}", control.error().message);
    return 1;
  }
  s.follow_store();
  if (auto ok = s.lc_feed.start([&s](std::string_view) {
        asio::post(s.io, [&s] { s.follow_store(); });
        s.changed("localconfig");
      });
      !ok) {
    ZMPROXY_LOG(warn, "zmconfigd", "not following localconfig: {}", ok.error().message);
  }
  if (auto ok = s.template_feed.start([&s](std::string_view) { s.changed("template override"); });
      !ok) {
    ZMPROXY_LOG(warn, "zmconfigd", "not following conf/templates.d: {}", ok.error().message);
  }
  s.arm_safety();
  asio::signal_set signals(s.io, SIGHUP, SIGTERM, SIGINT);
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code e,
                                                                      int sig) {
    if (e) {
      return;
    }
    if (sig == SIGHUP) {
      s.render("SIGHUP");
      signals.async_wait(on_signal);
      return;
    }
    ZMPROXY_LOG(info, "zmconfigd", "stopping (signal {})", sig);
    s.io.stop();
  };
  signals.async_wait(on_signal);
  ZMPROXY_LOG(info, "zmconfigd", "watching {} (safety re-read every {} s)",
              s.options.home.home.string(), s.interval().count() / 1000);
  s.io.run();
  s.lc_feed.stop();
  s.template_feed.stop();
  if (s.store_feed) {
    s.store_feed->stop();
  }
  return 0;
}

}  // namespace zmproxy::confgen

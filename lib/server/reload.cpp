// zmproxyd's reload: load and validate, bind the new listeners first, then
// commit (swap the generation in, close what is no longer wanted); nothing
// changes unless all of it succeeds.

#include "lib/server/server_impl.hpp"

#include "lib/core/assert.hpp"
#include "lib/core/atomic_file.hpp"
#include "lib/log/logger.hpp"
#include "lib/server/listener_plan.hpp"

namespace zmproxy::server {

using config::ProxyConfig;

std::shared_ptr<const Generation> ProxyServer::Impl::published() const {
  std::shared_ptr<const Generation> g = current.load(std::memory_order_acquire);
  ZMPROXY_ASSERT(g != nullptr, "a generation is published before any listener or command runs");
  return g;
}

Result<std::string> ProxyServer::Impl::apply(std::shared_ptr<const ProxyConfig> config) {
  std::shared_ptr<const Generation> previous = current.load();
  if (previous && previous->config->server.workers != config->server.workers) {
    ZMPROXY_LOG(warn, "proxy",
                "server.workers changed from {} to {}: takes effect at the next restart",
                previous->config->server.workers, config->server.workers);
  }
  auto built = build_generation(config, previous);
  if (!built) {
    return tl::unexpected(built.error());
  }
  (*built)->counters = counters;
  (*built)->kernel_relay = config->server.kernel_relay ? kernel_relay.get() : nullptr;
  if (previous && config->server.kernel_relay && !previous->config->server.kernel_relay &&
      kernel_relay == nullptr) {
    ZMPROXY_LOG(warn, "proxy",
                "server.kernel_relay turned on: takes effect at the next restart ({})",
                kernel_relay_why.empty() ? "it is loaded at start" : kernel_relay_why);
  }
  std::shared_ptr<Generation> next = std::move(*built);
  // Keep the listeners that did not change; bind the new ones first.
  std::vector<bool> kept;
  auto opened = open_wanted(listener_specs(*config, next->server_tls != nullptr), kept,
                            config->file.string());
  if (!opened) {
    return tl::unexpected(opened.error());
  }
  commit(next, std::move(*opened), kept);
  apply_logging(*config, previous ? previous->config.get() : nullptr);
  if (generation > 0) {
    write_addresses();  // at start, run() writes it once the process is ready (after the drop)
  }
  ++generation;
  return fmt::format("generation {} version {}", generation, config->version);
}

// Binds every wanted listener not held yet; on a failure closes those it
// opened and returns the first error. `kept`: per held listener, still wanted.
Result<std::vector<Listener>> ProxyServer::Impl::open_wanted(const std::vector<ListenerSpec>& wanted,
                                                             std::vector<bool>& kept,
                                                             const std::string& config_file) {
  std::vector<ListenerSpec> held;
  for (const Listener& l : listeners) {
    held.push_back(l.spec);
  }
  ListenerPlan plan = plan_listeners(held, wanted);
  kept = std::move(plan.kept);
  std::vector<Listener> opened;
  for (const ListenerPlan::Open& o : plan.to_open) {
    // A port we do not hold must not be shared with another program either.
    Result<void> free = o.conflict.empty() ? Result<void>{} : fail(Errc::invalid_argument, o.conflict);
    if (free && o.spec.port != 0) {
      free = probe_port(o.spec);
    }
    auto l = free ? open_listener(o.spec, config_file) : Result<Listener>(tl::unexpected(free.error()));
    if (!l) {
      for (Listener& done : opened) {
        close_listener(done);
      }
      return tl::unexpected(l.error());
    }
    opened.push_back(std::move(*l));
  }
  return opened;
}

// Publish `next` with the kept and the opened listeners; close the others.
void ProxyServer::Impl::commit(std::shared_ptr<Generation> next, std::vector<Listener> opened,
                               const std::vector<bool>& kept) {
  ZMPROXY_ASSERT(kept.size() == listeners.size(), "one kept flag per held listener");
  std::vector<Listener> next_listeners;
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    if (kept[i]) {
      next_listeners.push_back(std::move(listeners[i]));
    } else {
      ZMPROXY_LOG(info, "proxy", "closing the {} listener on {}:{}",
                  protocol_name(listeners[i].spec.protocol), listeners[i].spec.address,
                  listeners[i].bound_port);
      close_listener(listeners[i], true);
    }
  }
  for (Listener& l : opened) {
    ZMPROXY_LOG(info, "proxy", "listening for {} on {}:{}", protocol_name(l.spec.protocol),
                l.spec.address, l.bound_port);
    next_listeners.push_back(std::move(l));
  }
  listeners = std::move(next_listeners);
  for (const Listener& l : listeners) {
    if (l.spec.protocol == Protocol::http) {
      next->http_port = l.bound_port;
    } else if (l.spec.protocol == Protocol::https) {
      next->https_port = l.bound_port;
    }
  }
  const std::shared_ptr<const Generation> previous = current.exchange(
      std::shared_ptr<const Generation>(std::move(next)), std::memory_order_acq_rel);
  if (previous) {
    previous->retired.store(true, std::memory_order_relaxed);  // its web connections wind down
  }
  for (Listener& l : listeners) {
    if (!l.accepting) {
      start_listener(l);
      l.accepting = true;
    }
  }
}

// `candidate`: a new configuration file that replaces `file` (renamed
// over it) only when it is accepted, so the file on disk is always the
// last good one. Empty: read `file` again.
std::string ProxyServer::Impl::reload(std::string_view why, const std::filesystem::path& candidate) {
  std::lock_guard lock(reload_mutex);
  auto config = candidate.empty() ? config::load_config(file, home) : load_candidate(candidate);
  Result<std::string> r = config ? apply(*config) : tl::unexpected(config.error());
  if (r && !candidate.empty()) {
    std::error_code fec;
    std::filesystem::rename(candidate, file, fec);
    if (fec) {
      // Memory and disk differ now: say so, loudly, in the reply too.
      *r += fmt::format(" (warning: cannot move {} over {}: {}; a restart would read the old file)",
                        candidate.string(), file.string(), fec.message());
      ZMPROXY_LOG(warn, "proxy", "serving {}, but cannot move it over {}: {}", candidate.string(),
                  file.string(), fec.message());
    }
  }
  ++reloads;
  last_reload_at = std::time(nullptr);
  if (r) {
    last_reload_result = "ok";
    last_reload_message = *r;
    ZMPROXY_LOG(info, "proxy", "reload ({}): {}", why, *r);
    return "OK " + *r;
  }
  last_reload_result = "error";
  last_reload_message = r.error().message;
  ZMPROXY_LOG(error, "proxy", "reload ({}) refused, still serving the previous configuration: {}",
              why, r.error().message);
  return "ERROR " + r.error().message;
}

// A candidate replaces `file`: it must sit next to it (the rename is
// atomic then), and its errors name `file`, the one an admin knows.
Result<std::shared_ptr<const ProxyConfig>> ProxyServer::Impl::load_candidate(
    const std::filesystem::path& candidate) {
  if (candidate.parent_path() != file.parent_path()) {
    return fail(Errc::invalid_argument,
                "RELOAD " + candidate.string() + ": a candidate configuration must be in " +
                    file.parent_path().string() + ", next to " + file.filename().string());
  }
  auto text = core::read_file(candidate);
  if (!text) {
    return tl::unexpected(text.error());
  }
  return config::parse_config(*text, file, home);
}

}  // namespace zmproxy::server

#include "lib/proxy/gssapi_gate.hpp"

#include "lib/log/logger.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <sys/stat.h>

#include <map>
#include <mutex>
#include <utility>

namespace zmproxy::proxy {

namespace asio = net::asio;
using asio::awaitable;
using Credentials = std::shared_ptr<const krb5::AcceptorCredentials>;

namespace {

// The most local addresses whose names principal_from_interface_address
// resolves (each a reverse lookup while the generation is built).
constexpr std::size_t k_max_interface_addresses = 32;

const char* service_name(GssService s) { return s == GssService::imap ? "imap" : "pop"; }

// The keys of one service: by local address (interface mode), else one.
struct ServiceKeys {
  bool offered = false;
  Credentials any;                          // server.name's
  std::map<std::string, Credentials> by_ip;  // interface mode
};

// The addresses a client can reach: bind_address itself, or every address
// of an interface that is up when zmproxyd binds a wildcard (link-local
// IPv6 left out: it has no useful reverse name).
std::vector<std::string> local_addresses(const std::string& bind_address) {
  if (bind_address != "0.0.0.0" && bind_address != "::" && !bind_address.empty()) {
    return {bind_address};
  }
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return out;
  }
  for (ifaddrs* i = list; i != nullptr && out.size() < k_max_interface_addresses; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || (i->ifa_flags & IFF_UP) == 0) {
      continue;
    }
    char text[INET6_ADDRSTRLEN] = {};
    if (i->ifa_addr->sa_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* a = &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr;
      if (IN6_IS_ADDR_LINKLOCAL(a)) {
        continue;
      }
      ::inet_ntop(AF_INET6, a, text, sizeof text);
    } else {
      continue;
    }
    out.emplace_back(text);
  }
  ::freeifaddrs(list);
  return out;
}

// The reverse name of an address ("" when it has none). Blocking: only
// while a generation is built, on the control thread.
std::string reverse_name(const std::string& address) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&ss); ::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    len = sizeof(sockaddr_in);
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
             ::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    len = sizeof(sockaddr_in6);
  } else {
    return {};
  }
  char host[NI_MAXHOST] = {};
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, nullptr, 0, NI_NAMEREQD) != 0) {
    return {};
  }
  return host;
}

std::string principal_for(GssService service, const std::string& host, const std::string& realm) {
  std::string p = std::string(service_name(service)) + "/" + host;
  if (!realm.empty()) {
    p += "@" + realm;
  }
  return p;
}

// The one thread every gssapi accept runs on, shared by the gates of all
// generations: a gate is built per reload, and one that kept a thread of its
// own would leave it behind for as long as one of its sessions lives.
// Started at the first step; stopped for good by shutdown().
struct AcceptThread {
  std::mutex mutex;
  std::unique_ptr<asio::thread_pool> pool;
  bool stopped = false;
  std::atomic<std::uint64_t> pending{0};
  std::atomic<std::uint64_t> busy{0};

  asio::thread_pool* get() {
    std::lock_guard lock(mutex);
    if (!pool && !stopped) {
      pool = std::make_unique<asio::thread_pool>(1);
    }
    return pool.get();
  }

  void shutdown() {
    std::unique_ptr<asio::thread_pool> p;
    {
      std::lock_guard lock(mutex);
      stopped = true;
      p = std::move(pool);
    }
    if (p) {
      p->stop();
      p->join();
    }  // queued steps are destroyed here, while the workers' io_contexts exist
  }
};

AcceptThread& accept_thread() {
  static AcceptThread t;
  return t;
}

// One step handed to the accept thread: what it works on, its answer, and
// the timer the waiting session sleeps on (cancelled when the answer is in).
struct StepState {
  explicit StepState(asio::any_io_executor executor) : timer(std::move(executor)) {}
  std::shared_ptr<krb5::GssLogin> login;
  std::string token;
  krb5::GssStep result;
  std::atomic<bool> done{false};
  asio::steady_timer timer;
};

// The keytab file's identity, to see whether a reload must read it again.
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = -1;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return {};
  }
  return FileStamp{st.st_dev, st.st_ino, st.st_size,
                   static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

bool imap_offered(const config::ProxyConfig& c) {
  return c.mail_enabled && c.imap.sasl_gssapi && (c.imap.enabled || c.imap.ssl_enabled);
}
bool pop_offered(const config::ProxyConfig& c) {
  return c.mail_enabled && c.pop3.sasl_gssapi && (c.pop3.enabled || c.pop3.ssl_enabled);
}

}  // namespace

struct GssapiGate::Impl {
  std::string keytab;
  FileStamp keytab_stamp;
  // What the keys were built from (serves()).
  config::KerberosSection settings;
  bool imap = false;
  bool pop = false;
  std::string server_name;
  std::string bind_address;
  std::string realm;
  ServiceKeys imap_keys;
  ServiceKeys pop_keys;
  std::vector<std::string> principals;

  ServiceKeys& keys(GssService s) { return s == GssService::imap ? imap_keys : pop_keys; }

  Result<Credentials> acquire(GssService service, const std::string& host) {
    std::string principal = principal_for(service, host, realm);
    auto creds = krb5::AcceptorCredentials::acquire(keytab, principal);
    if (!creds) {
      return fail(creds.error().code, "krb5_keytab: " + creds.error().message);
    }
    principals.push_back((*creds)->principal_display());  // the realm spelled out
    return *creds;
  }

  Result<void> load(GssService service, const config::ProxyConfig& c) {
    ServiceKeys& k = keys(service);
    k.offered = true;
    if (!c.kerberos.principal_from_interface_address) {
      auto creds = acquire(service, c.server.name);
      if (!creds) {
        return tl::unexpected(creds.error());
      }
      k.any = std::move(*creds);
      return {};
    }
    std::vector<std::string> missing;
    for (const std::string& address : local_addresses(c.server.bind_address)) {
      const std::string host = reverse_name(address);
      if (host.empty()) {
        missing.push_back(address + " (no reverse name)");
        continue;
      }
      auto creds = acquire(service, host);
      if (!creds) {
        missing.push_back(address + " (" + principal_for(service, host, realm) + ")");
        continue;
      }
      k.by_ip.emplace(address, std::move(*creds));
    }
    if (k.by_ip.empty()) {
      return fail(Errc::invalid_argument,
                  fmt::format("krb5_keytab {} has no {} key for any local address: {}; add them with "
                              "kadmin ktadd, or set krb5_service_principal_from_interface_address "
                              "false",
                              keytab, service_name(service), fmt::join(missing, ", ")));
    }
    for (const std::string& m : missing) {
      ZMPROXY_LOG(warn, "gssapi", "no {} key for local address {}: GSSAPI is not offered there",
                  service_name(service), m);
    }
    return {};
  }

};

Result<std::shared_ptr<GssapiGate>> GssapiGate::create(const config::ProxyConfig& c) {
  const bool imap = imap_offered(c);
  const bool pop = pop_offered(c);
  if (!imap && !pop) {
    return std::shared_ptr<GssapiGate>();
  }
  auto impl = std::make_unique<Impl>();
  impl->keytab = c.kerberos.keytab.empty() ? std::string() : c.path(c.kerberos.keytab).string();
  impl->realm = c.kerberos.default_realm;
  impl->settings = c.kerberos;
  impl->imap = imap;
  impl->pop = pop;
  impl->server_name = c.server.name;
  impl->bind_address = c.server.bind_address;
  impl->keytab_stamp = stamp_of(impl->keytab);  // before the read: a change during it reads again
  if (impl->keytab.empty()) {
    return fail(Errc::invalid_argument,
                "GSSAPI is on but no keytab is set: set krb5_keytab (zmlocalconfig -e krb5_keytab=...)");
  }
  if (imap) {
    if (auto ok = impl->load(GssService::imap, c); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  if (pop) {
    if (auto ok = impl->load(GssService::pop, c); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  return std::shared_ptr<GssapiGate>(new GssapiGate(std::move(impl)));
}

GssapiGate::GssapiGate(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
GssapiGate::~GssapiGate() = default;

bool GssapiGate::offered(GssService service) const noexcept { return m_impl->keys(service).offered; }

Credentials GssapiGate::credentials(GssService service, std::string_view local_ip) const {
  const ServiceKeys& k = m_impl->keys(service);
  if (k.any) {
    return k.any;
  }
  const auto it = k.by_ip.find(std::string(local_ip));
  return it == k.by_ip.end() ? Credentials() : it->second;
}

bool GssapiGate::serves(const config::ProxyConfig& c) const {
  const Impl& s = *m_impl;
  const std::string keytab = c.kerberos.keytab.empty() ? std::string() : c.path(c.kerberos.keytab).string();
  return s.settings == c.kerberos && s.imap == imap_offered(c) && s.pop == pop_offered(c) &&
         s.server_name == c.server.name && s.bind_address == c.server.bind_address && s.keytab == keytab &&
         s.keytab_stamp.size >= 0 && s.keytab_stamp == stamp_of(keytab);
}

awaitable<GssapiGate::StepResult> GssapiGate::step(std::shared_ptr<krb5::GssLogin> login, std::string token,
                                                   std::chrono::steady_clock::time_point deadline) {
  AcceptThread& t = accept_thread();
  StepResult out;
  if (t.pending.fetch_add(1, std::memory_order_relaxed) >= k_max_pending) {
    t.pending.fetch_sub(1, std::memory_order_relaxed);
    t.busy.fetch_add(1, std::memory_order_relaxed);
    out.outcome = StepOutcome::busy;
    co_return out;
  }
  asio::thread_pool* pool = t.get();
  if (pool == nullptr) {
    t.pending.fetch_sub(1, std::memory_order_relaxed);
    co_return out;  // stopped
  }
  auto state = std::make_shared<StepState>(co_await asio::this_coro::executor);
  state->login = std::move(login);
  state->token = std::move(token);
  state->timer.expires_at(deadline);
  asio::post(*pool, [state, &t] {
    state->result = state->login->step(state->token);
    state->done.store(true, std::memory_order_release);
    t.pending.fetch_sub(1, std::memory_order_relaxed);
    // The timer is the session's: cancelled on the session's executor.
    asio::post(state->timer.get_executor(), [state] { state->timer.cancel(); });
  });
  co_await state->timer.async_wait(net::use_nothrow);
  if (!state->done.load(std::memory_order_acquire)) {
    out.outcome = StepOutcome::timed_out;
    co_return out;
  }
  out.outcome = StepOutcome::done;
  out.step = std::move(state->result);
  co_return out;
}

void GssapiGate::shutdown() { accept_thread().shutdown(); }

std::string GssapiGate::qualify(std::string principal) const {
  if (!m_impl->realm.empty() && principal.find('@') == std::string::npos) {
    principal += "@" + m_impl->realm;
  }
  return principal;
}

const std::string& GssapiGate::keytab() const noexcept { return m_impl->keytab; }

std::vector<std::string> GssapiGate::principals() const { return m_impl->principals; }

std::uint64_t GssapiGate::busy() const noexcept {
  return accept_thread().busy.load(std::memory_order_relaxed);
}

}  // namespace zmproxy::proxy

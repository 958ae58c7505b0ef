#pragma once
// GssapiGate: Kerberos (SASL GSSAPI, RFC 4752) as the mail sessions see it.
// One per configuration generation (lib/server/generation.cpp), built only
// when imap.sasl_gssapi or pop3.sasl_gssapi is on. It holds:
//
//  - the service keys, acquired once from [kerberos] keytab when the
//    generation is built (lib/krb5 copies them into memory): imap/<host> and
//    pop/<host> for the protocols that offer GSSAPI, <host> being
//    server.name, or with kerberos.principal_from_interface_address the
//    reverse name of each local address zmproxyd listens on (so a client
//    that reached 192.0.2.10, named mail-a.example.com, gets
//    imap/mail-a.example.com). The realm is kerberos.default_realm when set,
//    else krb5.conf's default realm. A key missing from the keytab is an
//    error that refuses the generation (the reload keeps the old one);
//  - and the way to the process's one accept thread (shared by the gates of
//    every generation), on which every gss_accept_sec_context runs, so a
//    worker never waits on MIT's library (its krb5.conf checks, its crypto).
//    At most k_max_pending steps wait for it; a step beyond is answered
//    busy at once. A session waits for its step only until its own deadline
//    (the login budget); the step, and the context it works on, live on
//    without it. shutdown() stops the thread: zmproxyd calls it after the
//    workers stopped and before their io_contexts go.
//
// A gate is carried over to the next generation while its settings and the
// keytab file (device, inode, size, modification time) are unchanged: a
// reload then reads no keytab and asks no reverse name.
//
// Thread affinity: thread-safe; step() resumes on the caller's executor.

#include "lib/config/proxy_config.hpp"
#include "lib/core/result.hpp"
#include "lib/krb5/gss_acceptor.hpp"
#include "lib/net/asio.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace zmproxy::proxy {

// The Kerberos service names of RFC 4752's mail protocols.
enum class GssService { imap, pop };

class GssapiGate {
 public:
  static constexpr std::uint64_t k_max_pending = 32;

  // Null when no mail protocol offers GSSAPI. Errors name krb5_keytab and
  // the principal that has no key.
  static Result<std::shared_ptr<GssapiGate>> create(const config::ProxyConfig& config);

  ~GssapiGate();
  GssapiGate(const GssapiGate&) = delete;
  GssapiGate& operator=(const GssapiGate&) = delete;

  bool offered(GssService service) const noexcept;
  // The keys for a login that reached `local_ip`; null when this address has
  // none (principal_from_interface_address, a name without a key).
  std::shared_ptr<const krb5::AcceptorCredentials> credentials(GssService service,
                                                               std::string_view local_ip) const;
  enum class StepOutcome {
    done,       // `step` is the context's answer (which may be a failure)
    busy,       // k_max_pending steps wait already: nothing was tried
    timed_out,  // not answered by the deadline: the context is given up
    stopped,    // zmproxyd is stopping
  };
  struct StepResult {
    StepOutcome outcome = StepOutcome::stopped;
    krb5::GssStep step;
  };
  // One client token into the context, on the accept thread, waited for
  // until `deadline`. After timed_out the caller must not use `login` again
  // (the thread may still hold it).
  net::asio::awaitable<StepResult> step(std::shared_ptr<krb5::GssLogin> login, std::string token,
                                        std::chrono::steady_clock::time_point deadline);
  // Stops the accept thread for good: a running step is finished, queued
  // ones are dropped. Call after the worker threads stopped, before their
  // io_contexts are destroyed.
  static void shutdown();
  // Whether this gate serves `config` unchanged (see above).
  bool serves(const config::ProxyConfig& config) const;
  // The principal as looked up: kerberos.default_realm appended when it has
  // no realm.
  std::string qualify(std::string principal) const;

  // For STATUS: the keytab file and the service principals in use.
  const std::string& keytab() const noexcept;
  std::vector<std::string> principals() const;
  // Steps refused because too many waited, since zmproxyd started.
  std::uint64_t busy() const noexcept;

  struct Impl;

 private:
  explicit GssapiGate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace zmproxy::proxy

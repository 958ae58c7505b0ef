#pragma once
// The server side of SASL GSSAPI (RFC 4752) over MIT Kerberos' GSS-API. This
// header includes no Kerberos header: gss_acceptor.cpp and memory_keytab.cpp
// are the translation units that do.
//
//  - AcceptorCredentials: the service's keys, read once from a keytab file
//    into a process-unique in-memory keytab (memory_keytab.hpp) and acquired
//    from it (gss_acquire_cred_from with the cred store's "keytab" naming the
//    MEMORY copy, never the process-wide KRB5_KTNAME) for one service
//    principal "<service>/<host>@REALM" (the default realm when "@REALM" is
//    left off) or, with an empty principal, for any principal in the keytab.
//    The file is not opened again: replacing or removing it changes nothing
//    until the next acquire() (a reload). The replay cache is off ("rcache"
//    none: no disk I/O a login; MIT's advice for servers whose tokens come
//    over an authenticated exchange).
//  - GssLogin: one login's context. step() takes each client token
//    (gss_accept_sec_context, Kerberos 5 mechanism only) and says continue,
//    complete or failed with a one-line reason; once complete,
//    client_principal() is the authenticated principal (gss_display_name)
//    and the security-layer exchange of RFC 4752 section 3.1 follows:
//    wrapped_layer_offer() is the server's wrapped offer (no security layer,
//    maximum buffer 0) and accept_layer_reply() unwraps and checks the
//    client's answer, giving the authorization identity (empty: none asked).
//
// Failures are one line naming the cause (errno, MIT's messages, gss_display_status)
// ("keytab /etc/krb5.keytab: cannot read it: No such file or directory",
// "GSSAPI context refused: Request ticket server pop/mail.example.com@EXAMPLE.COM
// not found in keytab (ticket kvno 1)", "... Ticket expired").
//
// Thread affinity: AcceptorCredentials is immutable once acquired and may be
// shared by every worker (MIT locks its credential handle). A GssLogin
// belongs to one session and is used by one thread at a time. step() takes
// the keys from memory and never uses the network; the only file work left is
// MIT's context set-up, which stats krb5.conf and re-reads it only when it
// changed.

#include "lib/core/result.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace zmproxy::krb5 {

// The largest client token taken, in bytes (a Kerberos AP-REQ with a PAC runs
// to a few KiB; Microsoft allows 48000 bytes of token).
inline constexpr std::size_t k_max_gss_token = 64 * 1024;
// The most step() calls one login may take (Kerberos 5 needs one).
inline constexpr int k_max_gss_steps = 4;
// principal_display() of credentials acquired for any principal in the keytab.
inline constexpr std::string_view k_any_principal_in_keytab = "(any in keytab)";

class GssLogin;

class AcceptorCredentials {
 public:
  // keytab: a file path, read here and only here. principal:
  // "<service>/<host>[@REALM]", or "" for any key in the keytab.
  // Errc::not_found / permission_denied when the file cannot be read,
  // Errc::invalid_argument when it is not a keytab, holds no key for the
  // principal or the name does not parse. Each message is one line starting
  // "keytab <file>" (or "service principal <p>").
  static Result<std::shared_ptr<const AcceptorCredentials>> acquire(std::string keytab,
                                                                    std::string principal);
  ~AcceptorCredentials();
  AcceptorCredentials(const AcceptorCredentials&) = delete;
  AcceptorCredentials& operator=(const AcceptorCredentials&) = delete;

  // The file the keys were read from (for logs and STATUS).
  const std::string& keytab() const noexcept;
  // As asked for ("" = any in the keytab).
  const std::string& principal() const noexcept;
  // The principal held, in full with its realm
  // ("imap/mail.example.com@EXAMPLE.COM"), or k_any_principal_in_keytab.
  const std::string& principal_display() const noexcept;

  struct Impl;

 private:
  explicit AcceptorCredentials(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class GssLogin;
};

enum class GssStepState { continue_needed, complete, failed };

struct GssStep {
  GssStepState state = GssStepState::failed;
  std::string token;   // to send to the client (may be empty)
  std::string reason;  // one line when failed
};

class GssLogin {
 public:
  explicit GssLogin(std::shared_ptr<const AcceptorCredentials> credentials);
  ~GssLogin();
  GssLogin(const GssLogin&) = delete;
  GssLogin& operator=(const GssLogin&) = delete;

  // One client token. After failed or complete, every further call fails.
  GssStep step(std::string_view token);
  bool complete() const noexcept;
  // The authenticated principal ("alice@EXAMPLE.COM"); "" until complete.
  const std::string& client_principal() const noexcept;

  // RFC 4752 section 3.1, once complete: the server's wrapped offer ...
  Result<std::string> wrapped_layer_offer();
  // ... and the client's wrapped reply, unwrapped and checked: the
  // authorization identity (maybe empty). Fails when the context is not
  // complete, the token does not unwrap, or the reply is refused
  // (security_layer.hpp).
  Result<std::string> accept_layer_reply(std::string_view wrapped);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zmproxy::krb5

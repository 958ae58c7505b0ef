#pragma once
// LdapStore: the Directory on a real OpenLDAP server through libldap's
// synchronous API (ldap_sasl_bind_s with LDAP_SASL_SIMPLE, ldap_*_ext_s).
// A lost connection is re-established and the operation retried once, then
// reported as Errc::unavailable. Blocking: never call it on an Asio worker.
// Not thread-safe: one instance per thread.

#include <memory>
#include <string>

#include "lib/provisioning/directory.hpp"

namespace zmproxy::provisioning {

struct LdapSettings {
  std::string url;       // one or more LDAP URLs, space separated (ldap_url)
  std::string bind_dn;   // zimbra_ldap_userdn
  std::string password;  // zimbra_ldap_password
  int timeout_seconds = 10;  // network and operation timeout
  // TLS and password rules (lib/provisioning/ldap_security.hpp).
  bool starttls_supported = false;     // ldap_starttls_supported: StartTLS on loopback too
  bool starttls_required = true;       // ldap_starttls_required: StartTLS towards other hosts
  std::string ca_file;                 // ldap_ca_file; "" = the system store
  bool allow_untrusted_certs = false;  // ssl_allow_untrusted_certs: no certificate checks
};

class LdapStore final : public Directory {
 public:
  // Connect and bind; Errc::unavailable when the server cannot be reached,
  // Errc::permission_denied when the bind is refused.
  static Result<std::unique_ptr<LdapStore>> connect(LdapSettings settings);
  ~LdapStore() override;

  Result<std::optional<Entry>> get(std::string_view dn) override;
  Result<std::vector<Entry>> search(std::string_view base, Scope scope, std::string_view filter,
                                    std::size_t limit = 0) override;
  Result<void> add(const Entry& entry) override;
  Result<void> modify(std::string_view dn, const std::vector<Modification>& mods) override;
  Result<void> remove(std::string_view dn) override;
  std::string describe() const override;

  struct Connection;

 private:
  explicit LdapStore(LdapSettings settings);
  LdapSettings m_settings;
  std::unique_ptr<Connection> m_conn;
};

}  // namespace zmproxy::provisioning

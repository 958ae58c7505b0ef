#pragma once
// ReplicatedStore: a Directory over an OpenLDAP replica for reads and its
// provider (localconfig ldap_master_url) for writes, as Zimbra's tools split
// ldap_url and ldap_master_url. The provider is connected on the first write
// only, so that reads keep working while it is down; a write it cannot take
// fails with one line saying the store is read-only until it returns and that
// nothing was changed. After a write, reads go to the provider too, so that a
// script reads back what it wrote (the replica may lag by a moment).

#include "lib/provisioning/directory.hpp"
#include "lib/provisioning/ldap_store.hpp"

#include <memory>
#include <string>

namespace zmproxy::provisioning {

class ReplicatedStore final : public Directory {
 public:
  // `replica`: connected (ldap_url); `provider`: the settings of ldap_master_url.
  ReplicatedStore(std::unique_ptr<Directory> replica, LdapSettings provider);
  ~ReplicatedStore() override;

  Result<std::optional<Entry>> get(std::string_view dn) override;
  Result<std::vector<Entry>> search(std::string_view base,
                                    Scope scope,
                                    std::string_view filter,
                                    std::size_t limit = 0) override;
  Result<void> add(const Entry& entry) override;
  Result<void> modify(std::string_view dn, const std::vector<Modification>& mods) override;
  Result<void> remove(std::string_view dn) override;
  std::string describe() const override;

 private:
  // The provider, connected now if it is not yet; the error names it and says
  // the store is read-only.
  Result<Directory*> writer();
  Directory& reader() { return m_wrote ? *m_provider : *m_replica; }

  std::unique_ptr<Directory> m_replica;
  LdapSettings m_provider_settings;
  std::unique_ptr<Directory> m_provider;
  bool m_wrote = false;
};

}  // namespace zmproxy::provisioning

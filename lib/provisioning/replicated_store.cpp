#include "lib/provisioning/replicated_store.hpp"

#include <utility>

namespace zmproxy::provisioning {

ReplicatedStore::ReplicatedStore(std::unique_ptr<Directory> replica, LdapSettings provider)
    : m_replica(std::move(replica)), m_provider_settings(std::move(provider)) {}

ReplicatedStore::~ReplicatedStore() = default;

Result<Directory*> ReplicatedStore::writer() {
  if (!m_provider) {
    auto connected = LdapStore::connect(m_provider_settings);
    if (!connected) {
      if (connected.error().code != Errc::unavailable) {
        return tl::unexpected(connected.error());
      }
      return tl::unexpected(
          Error{Errc::unavailable,
                "the store is read-only: its LDAP provider " + m_provider_settings.url +
                    " (ldap_master_url) cannot be reached (" + connected.error().message +
                    "); nothing was changed; reads still come from " + m_replica->describe() +
                    "; retry when the provider is back"});
    }
    m_provider = std::move(*connected);
  }
  m_wrote = true;
  return m_provider.get();
}

namespace {

// A write the provider loses mid-way (after LdapStore's one reconnect) says
// the same as one it never took.
Result<void> read_only_unless(Result<void> r) {
  if (!r && r.error().code == Errc::unavailable) {
    return tl::unexpected(
        Error{Errc::unavailable, "the store is read-only: " + r.error().message +
                                     " (ldap_master_url); retry when it is back"});
  }
  return r;
}

}  // namespace

Result<std::optional<Entry>> ReplicatedStore::get(std::string_view dn) {
  return reader().get(dn);
}

Result<std::vector<Entry>> ReplicatedStore::search(std::string_view base,
                                                   Scope scope,
                                                   std::string_view filter,
                                                   std::size_t limit) {
  return reader().search(base, scope, filter, limit);
}

Result<void> ReplicatedStore::add(const Entry& entry) {
  auto w = writer();
  if (!w) {
    return tl::unexpected(w.error());
  }
  return read_only_unless((*w)->add(entry));
}

Result<void> ReplicatedStore::modify(std::string_view dn, const std::vector<Modification>& mods) {
  auto w = writer();
  if (!w) {
    return tl::unexpected(w.error());
  }
  return read_only_unless((*w)->modify(dn, mods));
}

Result<void> ReplicatedStore::remove(std::string_view dn) {
  auto w = writer();
  if (!w) {
    return tl::unexpected(w.error());
  }
  return read_only_unless((*w)->remove(dn));
}

std::string ReplicatedStore::describe() const {
  return m_replica->describe() + " (writes to " + m_provider_settings.url + ")";
}

}  // namespace zmproxy::provisioning

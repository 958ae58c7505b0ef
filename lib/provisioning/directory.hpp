#pragma once
// Directory: the seam between provisioning and its two stores, FileStore
// (the embedded LDIF file) and LdapStore (OpenLDAP through libldap). It speaks
// in DNs, LDAP filters and modifications, and knows nothing of Zimbra's names;
// Provisioning (provisioning.hpp) builds Zimbra's semantics on top.
//
// Failures: Errc::not_found (no such entry), Errc::already_exists (add of an
// existing DN), Errc::invalid_argument (bad filter or DN, schema violation),
// Errc::unavailable (the server cannot be reached, after one retry),
// Errc::io_error. Messages are one line naming the DN or the server.
// Not thread-safe: one instance per thread.

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "lib/core/result.hpp"
#include "lib/provisioning/entry.hpp"

namespace zmproxy::provisioning {

enum class Scope { base, one, subtree };

class Directory {
 public:
  Directory() = default;
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;
  Directory(Directory&&) = delete;
  Directory& operator=(Directory&&) = delete;
  virtual ~Directory() = default;

  // The entry, or nullopt when it does not exist.
  virtual Result<std::optional<Entry>> get(std::string_view dn) = 0;
  // Entries under `base` (base "" = the whole directory) matching an RFC 4515
  // filter, at most `limit` of them (0 = no limit), in no particular order.
  virtual Result<std::vector<Entry>> search(std::string_view base, Scope scope,
                                            std::string_view filter, std::size_t limit = 0) = 0;
  // Add an entry; its parent must exist (except for top-level entries).
  virtual Result<void> add(const Entry& entry) = 0;
  // Apply modifications to one entry atomically (ModOp semantics in entry.hpp).
  virtual Result<void> modify(std::string_view dn, const std::vector<Modification>& mods) = 0;
  // Delete one entry; it must have no children.
  virtual Result<void> remove(std::string_view dn) = 0;
  // A short description for messages, e.g. "ldap://127.0.0.1:3890" or the file path.
  virtual std::string describe() const = 0;
};

}  // namespace zmproxy::provisioning

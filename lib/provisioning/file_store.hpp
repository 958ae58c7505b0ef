#pragma once
// FileStore: the embedded directory, one LDIF file (data/prov.ldif) holding
// the same tree an OpenLDAP server would, so `slapadd -l prov.ldif` moves it
// into a real directory. Reads use an in-memory copy (read with one read()
// into a buffer of its size; StoreIndex finds each record from the dn lines
// alone, and a record is parsed when used), reloaded when the file's inode,
// size or mtime changes; anything but a regular file is refused (a FIFO
// would block, a directory read as empty). Every write takes an exclusive lock on
// data/.prov.ldif.lock, reloads if another process wrote, applies the change
// and replaces the file atomically, so concurrent processes never lose an
// update. Not thread-safe: one instance per thread.

#include <filesystem>
#include <memory>

#include "lib/provisioning/directory.hpp"

namespace zmproxy::provisioning {

class FileStore final : public Directory {
 public:
  // Open the store at `file`; a missing file is an empty directory, created
  // (with its folder) on the first write.
  static Result<std::unique_ptr<FileStore>> open(std::filesystem::path file);
  ~FileStore() override;

  Result<std::optional<Entry>> get(std::string_view dn) override;
  Result<std::vector<Entry>> search(std::string_view base, Scope scope, std::string_view filter,
                                    std::size_t limit = 0) override;
  Result<void> add(const Entry& entry) override;
  Result<void> modify(std::string_view dn, const std::vector<Modification>& mods) override;
  Result<void> remove(std::string_view dn) override;
  std::string describe() const override;

  struct State;

 private:
  explicit FileStore(std::unique_ptr<State> state);
  std::unique_ptr<State> m_state;
};

}  // namespace zmproxy::provisioning

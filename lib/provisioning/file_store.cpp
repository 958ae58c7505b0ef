#include "lib/provisioning/file_store.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "lib/core/atomic_file.hpp"
#include "lib/core/file_lock.hpp"
#include "lib/provisioning/dn.hpp"
#include "lib/provisioning/filter.hpp"
#include "lib/provisioning/ldif.hpp"

namespace zmproxy::provisioning {

namespace {

// The key an entry is indexed by: its normalized RDNs from the root down,
// separated by \x01, so a parent sorts right before its subtree and the map's
// order is the order slapadd needs (parents first).
std::string tree_key(std::string_view dn) {
  const auto rdns = split_dn(normalize_dn(dn));
  std::string key;
  for (auto it = rdns.rbegin(); it != rdns.rend(); ++it) {
    if (!key.empty()) {
      key += '\x01';
    }
    key += *it;
  }
  return key;
}

struct FileIdentity {
  bool exists = false;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

Result<FileIdentity> identify(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return FileIdentity{};
    }
    return fail(Errc::io_error, "cannot stat " + file.string() + ": " + std::strerror(errno));
  }
  return FileIdentity{true, st.st_ino, st.st_size,
                      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                          st.st_mtim.tv_nsec};
}

}  // namespace

struct FileStore::State {
  std::filesystem::path file;
  std::filesystem::path lock_file;
  bool loaded = false;
  FileIdentity identity;
  std::map<std::string, Entry> entries;  // by tree_key

  // Reload when the file on disk is not the one in memory.
  Result<void> refresh() {
    auto id = identify(file);
    if (!id) {
      return tl::unexpected(id.error());
    }
    if (loaded && *id == identity) {
      return {};
    }
    std::map<std::string, Entry> fresh;
    if (id->exists) {
      auto text = core::read_file(file);
      if (!text) {
        return tl::unexpected(text.error());
      }
      auto parsed = parse_ldif(*text, file.string());
      if (!parsed) {
        return tl::unexpected(parsed.error());
      }
      for (Entry& e : *parsed) {
        std::string key = tree_key(e.dn);
        fresh.insert_or_assign(std::move(key), std::move(e));
      }
    }
    entries = std::move(fresh);
    identity = *id;
    loaded = true;
    return {};
  }

  Result<void> persist() {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    std::string text =
        "# zmproxy embedded directory. Same tree as LDAP: `slapadd -l` loads it.\n"
        "# Change it with zmprov; edit by hand only while no zmproxy tool runs.\n\n";
    for (const auto& [key, entry] : entries) {
      append_ldif(text, entry);
    }
    ZMPROXY_TRY(core::write_file_atomic(file, text, 0640));
    auto id = identify(file);
    if (!id) {
      return tl::unexpected(id.error());
    }
    identity = *id;
    return {};
  }

  // Run a change under the lock, on a fresh copy, and write it out. When the
  // change or the write fails, memory is reloaded from disk next time.
  template <typename Change>
  Result<void> write(Change&& change) {
    auto lock = core::FileLock::acquire(lock_file);
    if (!lock) {
      return tl::unexpected(lock.error());
    }
    ZMPROXY_TRY(refresh());
    auto changed = change();
    if (!changed) {
      return changed;
    }
    auto written = persist();
    if (!written) {
      loaded = false;
    }
    return written;
  }

  bool has_children(const std::string& key) const {
    const auto it = entries.upper_bound(key);
    return it != entries.end() && it->first.size() > key.size() &&
           it->first.compare(0, key.size(), key) == 0 && it->first[key.size()] == '\x01';
  }
};

FileStore::FileStore(std::unique_ptr<State> state) : m_state(std::move(state)) {}
FileStore::~FileStore() = default;

Result<std::unique_ptr<FileStore>> FileStore::open(std::filesystem::path file) {
  auto state = std::make_unique<State>();
  state->lock_file = file.parent_path() / ("." + file.filename().string() + ".lock");
  state->file = std::move(file);
  ZMPROXY_TRY(state->refresh());
  return std::unique_ptr<FileStore>(new FileStore(std::move(state)));
}

std::string FileStore::describe() const { return m_state->file.string(); }

Result<std::optional<Entry>> FileStore::get(std::string_view dn) {
  ZMPROXY_TRY(m_state->refresh());
  const auto it = m_state->entries.find(tree_key(dn));
  if (it == m_state->entries.end()) {
    return std::optional<Entry>();
  }
  return std::optional<Entry>(it->second);
}

Result<std::vector<Entry>> FileStore::search(std::string_view base, Scope scope,
                                             std::string_view filter_text, std::size_t limit) {
  auto filter = parse_filter(filter_text);
  if (!filter) {
    return tl::unexpected(filter.error());
  }
  ZMPROXY_TRY(m_state->refresh());
  const std::string base_key = tree_key(base);
  const std::size_t base_depth = base_key.empty() ? 0 : split_dn(normalize_dn(base)).size();
  std::vector<Entry> out;
  auto it = base_key.empty() ? m_state->entries.begin() : m_state->entries.lower_bound(base_key);
  if (!base_key.empty() && (it == m_state->entries.end() || it->first != base_key)) {
    return fail(Errc::not_found, "no such entry: " + std::string(base));
  }
  for (; it != m_state->entries.end(); ++it) {
    const std::string& key = it->first;
    if (!base_key.empty() && key != base_key &&
        (key.compare(0, base_key.size(), base_key) != 0 || key[base_key.size()] != '\x01')) {
      break;  // left the subtree (keys of a subtree are contiguous)
    }
    const std::size_t depth = split_dn(normalize_dn(it->second.dn)).size();
    const bool in_scope = scope == Scope::subtree ||
                          (scope == Scope::base && depth == base_depth) ||
                          (scope == Scope::one && depth == base_depth + 1);
    if (in_scope && matches(*filter, it->second)) {
      out.push_back(it->second);
      if (limit != 0 && out.size() >= limit) {
        break;
      }
    }
    if (scope == Scope::base) {
      break;
    }
  }
  return out;
}

Result<void> FileStore::add(const Entry& entry) {
  if (split_dn(entry.dn).empty()) {
    return fail(Errc::invalid_argument, "invalid DN: '" + entry.dn + "'");
  }
  return m_state->write([&]() -> Result<void> {
    const std::string key = tree_key(entry.dn);
    if (m_state->entries.count(key) != 0) {
      return fail(Errc::already_exists, "entry already exists: " + entry.dn);
    }
    const std::string parent = parent_dn(entry.dn);
    if (!parent.empty() && m_state->entries.count(tree_key(parent)) == 0) {
      return fail(Errc::not_found, "parent entry does not exist: " + parent);
    }
    Entry copy = entry;
    AttrMap cleaned;
    for (auto& [name, values] : copy.attrs) {
      if (!values.empty()) {
        cleaned.emplace(name, std::move(values));
      }
    }
    copy.attrs = std::move(cleaned);
    m_state->entries.emplace(key, std::move(copy));
    return {};
  });
}

Result<void> FileStore::modify(std::string_view dn, const std::vector<Modification>& mods) {
  return m_state->write([&]() -> Result<void> {
    const auto it = m_state->entries.find(tree_key(dn));
    if (it == m_state->entries.end()) {
      return fail(Errc::not_found, "no such entry: " + std::string(dn));
    }
    apply_modifications(it->second.attrs, mods);
    return {};
  });
}

Result<void> FileStore::remove(std::string_view dn) {
  return m_state->write([&]() -> Result<void> {
    const std::string key = tree_key(dn);
    const auto it = m_state->entries.find(key);
    if (it == m_state->entries.end()) {
      return fail(Errc::not_found, "no such entry: " + std::string(dn));
    }
    if (m_state->has_children(key)) {
      return fail(Errc::invalid_argument,
                  "entry has children and cannot be deleted: " + std::string(dn));
    }
    m_state->entries.erase(it);
    return {};
  });
}

}  // namespace zmproxy::provisioning

#include "lib/provisioning/file_store.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>

#include "lib/core/atomic_file.hpp"
#include "lib/core/file_lock.hpp"
#include "lib/core/strings.hpp"
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

// Literal strings one of which a record's text must contain (ignoring case)
// for the filter to possibly match it; nullopt when no such set is known.
std::optional<std::vector<std::string>> required_literals(const Filter& f) {
  switch (f.kind) {
    case Filter::Kind::equal:
    case Filter::Kind::approx:
      if (f.value.empty()) {
        return std::nullopt;
      }
      return std::vector<std::string>{core::to_lower(f.value)};
    case Filter::Kind::substring: {
      std::string longest = f.initial.size() >= f.final_.size() ? f.initial : f.final_;
      for (const std::string& a : f.any) {
        if (a.size() > longest.size()) {
          longest = a;
        }
      }
      if (longest.empty()) {
        return std::nullopt;
      }
      return std::vector<std::string>{core::to_lower(longest)};
    }
    case Filter::Kind::or_: {
      std::vector<std::string> all;
      for (const Filter& c : f.children) {
        auto sub = required_literals(c);
        if (!sub) {
          return std::nullopt;
        }
        all.insert(all.end(), sub->begin(), sub->end());
      }
      return all;
    }
    case Filter::Kind::and_: {
      // The most selective child: the one whose shortest literal is longest.
      std::optional<std::vector<std::string>> best;
      std::size_t best_len = 0;
      for (const Filter& c : f.children) {
        auto sub = required_literals(c);
        if (!sub) {
          continue;
        }
        std::size_t shortest = SIZE_MAX;
        for (const auto& l : *sub) {
          shortest = std::min(shortest, l.size());
        }
        if (!best || shortest > best_len) {
          best = std::move(sub);
          best_len = shortest;
        }
      }
      return best;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

struct FileStore::State {
  // One record of the file: where its text is, and the entry once parsed.
  struct Slot {
    std::size_t offset = 0;
    std::size_t length = 0;
    std::size_t line = 0;
    std::optional<Entry> entry;
  };

  std::filesystem::path file;
  std::filesystem::path lock_file;
  bool loaded = false;
  FileIdentity identity;
  std::string text;        // the file as last read or written
  std::string lower_text;  // lower-cased copy, made on the first filtered search
  std::map<std::string, Slot> slots;  // by tree_key: parents before children

  // Reload when the file on disk is not the one in memory. Only the dn lines
  // are read now; records are parsed when used.
  Result<void> refresh() {
    auto id = identify(file);
    if (!id) {
      return tl::unexpected(id.error());
    }
    if (loaded && *id == identity) {
      return {};
    }
    std::string fresh_text;
    std::map<std::string, Slot> fresh;
    if (id->exists) {
      auto read = core::read_file(file);
      if (!read) {
        return tl::unexpected(read.error());
      }
      fresh_text = std::move(*read);
      auto index = index_ldif(fresh_text, file.string());
      if (!index) {
        return tl::unexpected(index.error());
      }
      for (const LdifRecord& r : *index) {
        fresh.insert_or_assign(tree_key(r.dn), Slot{r.offset, r.length, r.line, std::nullopt});
      }
    }
    text = std::move(fresh_text);
    lower_text.clear();
    slots = std::move(fresh);
    identity = *id;
    loaded = true;
    return {};
  }

  Result<Entry*> entry(Slot& slot) {
    if (!slot.entry) {
      auto parsed = parse_ldif_record(std::string_view(text).substr(slot.offset, slot.length),
                                      file.string(), slot.line);
      if (!parsed) {
        return tl::unexpected(parsed.error());
      }
      slot.entry = std::move(*parsed);
    }
    return &*slot.entry;
  }

  // Could a record match, judging by its raw text? Records with base64 or
  // folded lines are always parsed.
  bool may_match(const Slot& slot, const std::optional<std::vector<std::string>>& literals) {
    if (!literals || slot.entry) {
      return true;
    }
    if (lower_text.size() != text.size()) {
      lower_text = core::to_lower(text);
    }
    const std::string_view raw = std::string_view(lower_text).substr(slot.offset, slot.length);
    if (raw.find(":: ") != std::string_view::npos || raw.find("\n ") != std::string_view::npos) {
      return true;
    }
    for (const std::string& l : *literals) {
      if (raw.find(l) != std::string_view::npos) {
        return true;
      }
    }
    return false;
  }

  Result<void> persist() {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    std::string out =
        "# zmproxy embedded directory. Same tree as LDAP: `slapadd -l` loads it.\n"
        "# Change it with zmprov; edit by hand only while no zmproxy tool runs.\n\n";
    out.reserve(text.size() + 4096);
    std::size_t line = 4;
    for (auto& [key, slot] : slots) {
      const std::size_t start = out.size();
      if (slot.entry) {
        append_ldif(out, *slot.entry);
      } else {
        out.append(text, slot.offset, slot.length);
        out += '\n';
      }
      slot.offset = start;
      slot.length = out.size() - start - 1;  // without the blank line
      slot.line = line;
      line += static_cast<std::size_t>(std::count(out.begin() + static_cast<std::ptrdiff_t>(start),
                                                  out.end(), '\n'));
    }
    ZMPROXY_TRY(core::write_file_atomic(file, out, 0640));
    text = std::move(out);
    lower_text.clear();
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
      loaded = false;
      return changed;
    }
    auto written = persist();
    if (!written) {
      loaded = false;
    }
    return written;
  }

  bool has_children(const std::string& key) const {
    const auto it = slots.upper_bound(key);
    return it != slots.end() && it->first.size() > key.size() &&
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
  const auto it = m_state->slots.find(tree_key(dn));
  if (it == m_state->slots.end()) {
    return std::optional<Entry>();
  }
  auto e = m_state->entry(it->second);
  if (!e) {
    return tl::unexpected(e.error());
  }
  return std::optional<Entry>(**e);
}

Result<std::vector<Entry>> FileStore::search(std::string_view base, Scope scope,
                                             std::string_view filter_text, std::size_t limit) {
  auto filter = parse_filter(filter_text);
  if (!filter) {
    return tl::unexpected(filter.error());
  }
  ZMPROXY_TRY(m_state->refresh());
  const auto literals = required_literals(*filter);
  const std::string base_key = tree_key(base);
  const std::size_t base_depth = base_key.empty() ? 0 : split_dn(normalize_dn(base)).size();
  auto& slots = m_state->slots;
  auto it = base_key.empty() ? slots.begin() : slots.lower_bound(base_key);
  if (!base_key.empty() && (it == slots.end() || it->first != base_key)) {
    return fail(Errc::not_found, "no such entry: " + std::string(base));
  }
  std::vector<Entry> out;
  for (; it != slots.end(); ++it) {
    const std::string& key = it->first;
    if (!base_key.empty() && key != base_key &&
        (key.compare(0, base_key.size(), base_key) != 0 || key[base_key.size()] != '\x01')) {
      break;  // left the subtree (the keys of a subtree are contiguous)
    }
    const std::size_t depth =
        key.empty() ? 0 : static_cast<std::size_t>(std::count(key.begin(), key.end(), '\x01')) + 1;
    const bool in_scope = scope == Scope::subtree ||
                          (scope == Scope::base && depth == base_depth) ||
                          (scope == Scope::one && depth == base_depth + 1);
    if (in_scope && m_state->may_match(it->second, literals)) {
      auto e = m_state->entry(it->second);
      if (!e) {
        return tl::unexpected(e.error());
      }
      if (matches(*filter, **e)) {
        out.push_back(**e);
        if (limit != 0 && out.size() >= limit) {
          break;
        }
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
    if (m_state->slots.count(key) != 0) {
      return fail(Errc::already_exists, "entry already exists: " + entry.dn);
    }
    const std::string parent = parent_dn(entry.dn);
    if (!parent.empty() && m_state->slots.count(tree_key(parent)) == 0) {
      return fail(Errc::not_found, "parent entry does not exist: " + parent);
    }
    Entry copy{entry.dn, {}};
    for (const auto& [name, values] : entry.attrs) {
      if (!values.empty()) {
        copy.attrs.emplace(name, values);
      }
    }
    m_state->slots.emplace(key, State::Slot{0, 0, 0, std::move(copy)});
    return {};
  });
}

Result<void> FileStore::modify(std::string_view dn, const std::vector<Modification>& mods) {
  return m_state->write([&]() -> Result<void> {
    const auto it = m_state->slots.find(tree_key(dn));
    if (it == m_state->slots.end()) {
      return fail(Errc::not_found, "no such entry: " + std::string(dn));
    }
    auto e = m_state->entry(it->second);
    if (!e) {
      return tl::unexpected(e.error());
    }
    apply_modifications((*e)->attrs, mods);
    return {};
  });
}

Result<void> FileStore::remove(std::string_view dn) {
  return m_state->write([&]() -> Result<void> {
    const std::string key = tree_key(dn);
    const auto it = m_state->slots.find(key);
    if (it == m_state->slots.end()) {
      return fail(Errc::not_found, "no such entry: " + std::string(dn));
    }
    if (m_state->has_children(key)) {
      return fail(Errc::invalid_argument,
                  "entry has children and cannot be deleted: " + std::string(dn));
    }
    m_state->slots.erase(it);
    return {};
  });
}

}  // namespace zmproxy::provisioning

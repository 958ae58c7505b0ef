#include "lib/provisioning/file_store.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "lib/core/atomic_file.hpp"
#include "lib/core/file_lock.hpp"
#include "lib/core/strings.hpp"
#include "lib/provisioning/dn.hpp"
#include "lib/provisioning/filter.hpp"
#include "lib/provisioning/ldif.hpp"
#include "lib/provisioning/store_index.hpp"

namespace zmproxy::provisioning {

namespace {

struct FileIdentity {
  bool exists = false;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

// A file's bytes in one buffer of their size: as read, or as last written.
// Not a std::string, which would zero 3 MB before read() fills them. A
// buffer of 1 MiB or more is mapped on its own, 2 MiB aligned, and asks for
// transparent huge pages: filling 3 MB then costs two page faults instead of
// 750 (1.6 -> 0.6 ms measured); where THP is off it is ordinary pages.
class Text {
 public:
  Text() = default;
  static Text allocate(std::size_t n) {
    Text t;
    t.size = n;
    constexpr std::size_t k_huge = std::size_t{2} << 20;
    if (n >= (std::size_t{1} << 20)) {
      const std::size_t length = (n + 1 + k_huge - 1) / k_huge * k_huge;
      void* raw = ::mmap(nullptr, length + k_huge, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (raw != MAP_FAILED) {
        const auto base = reinterpret_cast<std::uintptr_t>(raw);
        const std::uintptr_t aligned = (base + k_huge - 1) & ~(k_huge - 1);
        if (aligned > base) {
          ::munmap(raw, aligned - base);
        }
        if (const std::size_t tail = base + length + k_huge - (aligned + length); tail > 0) {
          ::munmap(reinterpret_cast<void*>(aligned + length), tail);
        }
        ::madvise(reinterpret_cast<void*>(aligned), length, MADV_HUGEPAGE);
        t.m_data = reinterpret_cast<char*>(aligned);
        t.m_mapped = length;
        return t;
      }
    }
    t.m_data = new char[n + 1];
    return t;
  }
  Text(Text&& other) noexcept
      : size(std::exchange(other.size, 0)),
        m_data(std::exchange(other.m_data, nullptr)),
        m_mapped(std::exchange(other.m_mapped, 0)) {}
  Text& operator=(Text&& other) noexcept {
    if (this != &other) {
      release();
      size = std::exchange(other.size, 0);
      m_data = std::exchange(other.m_data, nullptr);
      m_mapped = std::exchange(other.m_mapped, 0);
    }
    return *this;
  }
  Text(const Text&) = delete;
  Text& operator=(const Text&) = delete;
  ~Text() { release(); }

  char* data() { return m_data; }
  std::string_view view() const { return {m_data, size}; }

  std::size_t size = 0;  // the bytes in use (at most what was allocated)

 private:
  void release() {
    if (m_mapped != 0) {
      ::munmap(m_data, m_mapped);
    } else {
      delete[] m_data;
    }
    m_data = nullptr;
    m_mapped = 0;
  }
  char* m_data = nullptr;
  std::size_t m_mapped = 0;  // the mapping's length; 0 = from new[]
};

FileIdentity identity_of(const struct stat& st) {
  return FileIdentity{true, st.st_ino, st.st_size,
                      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                          st.st_mtim.tv_nsec};
}

Result<FileIdentity> identify(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return FileIdentity{};
    }
    return fail(Errc::io_error, "cannot stat " + file.string() + ": " + std::strerror(errno));
  }
  return identity_of(st);
}

// Closes a file descriptor at the end of a scope.
struct FdCloser {
  explicit FdCloser(int f) : fd(f) {}
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  ~FdCloser() { ::close(fd); }
  int fd;
};

// The whole file in one buffer of its size (no stream, no copy); `id` becomes
// the identity of what was read. A missing file is empty. Anything but a
// regular file is refused: a FIFO would block every reader, a directory
// would read as an empty store.
Result<Text> read_whole(const std::filesystem::path& file, FileIdentity& id) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) {
      id = FileIdentity{};
      return Text{};
    }
    return fail(Errc::io_error, "cannot read " + file.string() + ": " + std::strerror(errno));
  }
  const FdCloser closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return fail(Errc::io_error, "cannot stat " + file.string() + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(Errc::io_error, file.string() +
                                    " is not a regular file; move it away and restore the store "
                                    "from a backup (an LDIF file)");
  }
  id = identity_of(st);
  // Sized by fstat, filled by read(); one more read() confirms the end.
  Text text = Text::allocate(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  for (;;) {
    if (got == text.size) {
      char probe = 0;
      const ssize_t n = ::read(fd, &probe, 1);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n == 0) {
        break;
      }
      if (n > 0) {  // it grew meanwhile: a writer that does not replace it
        Text bigger = Text::allocate(text.size * 2 + 4096);
        std::memcpy(bigger.data(), text.data(), got);
        bigger.data()[got++] = probe;
        text = std::move(bigger);
        continue;
      }
      return fail(Errc::io_error, "cannot read " + file.string() + ": " + std::strerror(errno));
    }
    const ssize_t n = ::read(fd, text.data() + got, text.size - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return fail(Errc::io_error, "cannot read " + file.string() + ": " + std::strerror(errno));
    }
    if (n == 0) {
      break;  // it shrank meanwhile
    }
    got += static_cast<std::size_t>(n);
  }
  text.size = got;
  return text;
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
  using Slot = StoreIndex::Slot;

  std::filesystem::path file;
  std::filesystem::path lock_file;
  bool loaded = false;
  FileIdentity identity;
  Text text;                // the file as last read or written
  std::string lower_record;  // scratch: one record lower-cased, for the search prefilter
  StoreIndex index;

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
    Text fresh_text;
    if (id->exists) {
      auto read = read_whole(file, *id);
      if (!read) {
        return tl::unexpected(read.error());
      }
      fresh_text = std::move(*read);
    }
    auto fresh = StoreIndex::build(fresh_text.view(), file.string());
    if (!fresh) {
      return tl::unexpected(fresh.error());
    }
    text = std::move(fresh_text);
    index = std::move(*fresh);
    identity = *id;
    loaded = true;
    return {};
  }

  Result<Entry*> entry(Slot& slot) {
    if (!slot.entry) {
      const std::string_view record = text.view().substr(slot.offset, slot.length);
      auto parsed = parse_ldif_record(record, file.string(), 1);
      if (!parsed) {  // again, for the error's line number
        parsed = parse_ldif_record(record, file.string(), ldif_line_at(text.view(), slot.offset));
      }
      if (!parsed) {
        return tl::unexpected(parsed.error());
      }
      slot.entry = std::make_unique<Entry>(std::move(*parsed));
    }
    return slot.entry.get();
  }

  // Could a record match, judging by its raw text? Records with base64 or
  // folded lines are always parsed.
  bool may_match(const Slot& slot, const std::optional<std::vector<std::string>>& literals) {
    if (!literals || slot.entry) {
      return true;
    }
    const std::string_view record = text.view().substr(slot.offset, slot.length);
    lower_record.resize(record.size());
    std::transform(record.begin(), record.end(), lower_record.begin(), core::ascii_lower);
    const std::string_view raw = lower_record;
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

  // Write every record in tree order: unchanged ones copied as they are,
  // parsed ones (changed, or read) as append_ldif writes them.
  Result<void> persist() {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    constexpr std::string_view k_header =
        "# zmproxy embedded directory. Same tree as LDAP: `slapadd -l` loads it.\n"
        "# Change it with zmprov; edit by hand only while no zmproxy tool runs.\n\n";
    std::vector<std::string> serialized;  // of the slots holding an entry, in order
    std::size_t total = k_header.size();
    for (std::size_t i = 0; i < index.size(); ++i) {
      const Slot& slot = index.slot(i);
      if (slot.entry) {
        serialized.emplace_back();
        append_ldif(serialized.back(), *slot.entry);
        total += serialized.back().size();
      } else {
        total += slot.length + 1;
      }
    }
    Text out = Text::allocate(total);
    char* at = out.data();
    const auto put = [&at](std::string_view piece) {
      std::memcpy(at, piece.data(), piece.size());
      at += piece.size();
    };
    put(k_header);
    std::size_t next_serialized = 0;
    for (std::size_t i = 0; i < index.size(); ++i) {
      Slot& slot = index.slot(i);
      const auto start = static_cast<std::size_t>(at - out.data());
      if (slot.entry) {
        put(serialized[next_serialized++]);
      } else {
        put(text.view().substr(slot.offset, slot.length));
        put("\n");
      }
      slot.offset = start;
      slot.length = static_cast<std::size_t>(at - out.data()) - start - 1;  // without the blank line
    }
    ZMPROXY_TRY(core::write_file_atomic(file, out.view(), 0640));
    text = std::move(out);
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
  const std::size_t i = m_state->index.find(tree_key(dn));
  if (i == StoreIndex::npos) {
    return std::optional<Entry>();
  }
  auto e = m_state->entry(m_state->index.slot(i));
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
  StoreIndex& index = m_state->index;
  std::size_t i = base_key.empty() ? 0 : index.lower_bound(base_key);
  if (!base_key.empty() && (i == index.size() || index.key(i) != base_key)) {
    return fail(Errc::not_found, "no such entry: " + std::string(base));
  }
  std::vector<Entry> out;
  for (; i < index.size(); ++i) {
    const std::string_view key = index.key(i);
    if (!base_key.empty() && key != base_key &&
        (key.substr(0, base_key.size()) != base_key || key[base_key.size()] != '\x01')) {
      break;  // left the subtree (the keys of a subtree are contiguous)
    }
    const std::size_t depth =
        key.empty() ? 0 : static_cast<std::size_t>(std::count(key.begin(), key.end(), '\x01')) + 1;
    const bool in_scope = scope == Scope::subtree ||
                          (scope == Scope::base && depth == base_depth) ||
                          (scope == Scope::one && depth == base_depth + 1);
    if (in_scope && m_state->may_match(index.slot(i), literals)) {
      auto e = m_state->entry(index.slot(i));
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
    if (m_state->index.find(key) != StoreIndex::npos) {
      return fail(Errc::already_exists, "entry already exists: " + entry.dn);
    }
    const std::string parent = parent_dn(entry.dn);
    if (!parent.empty() && m_state->index.find(tree_key(parent)) == StoreIndex::npos) {
      return fail(Errc::not_found, "parent entry does not exist: " + parent);
    }
    auto copy = std::make_unique<Entry>(Entry{entry.dn, {}});
    for (const auto& [name, values] : entry.attrs) {
      if (!values.empty()) {
        copy->attrs.emplace(name, values);
      }
    }
    m_state->index.insert(key, State::Slot{0, 0, std::move(copy)});
    return {};
  });
}

Result<void> FileStore::modify(std::string_view dn, const std::vector<Modification>& mods) {
  return m_state->write([&]() -> Result<void> {
    const std::size_t i = m_state->index.find(tree_key(dn));
    if (i == StoreIndex::npos) {
      return fail(Errc::not_found, "no such entry: " + std::string(dn));
    }
    auto e = m_state->entry(m_state->index.slot(i));
    if (!e) {
      return tl::unexpected(e.error());
    }
    apply_modifications((*e)->attrs, mods);
    return {};
  });
}

Result<void> FileStore::remove(std::string_view dn) {
  return m_state->write([&]() -> Result<void> {
    const std::size_t i = m_state->index.find(tree_key(dn));
    if (i == StoreIndex::npos) {
      return fail(Errc::not_found, "no such entry: " + std::string(dn));
    }
    if (m_state->index.has_children(i)) {
      return fail(Errc::invalid_argument,
                  "entry has children and cannot be deleted: " + std::string(dn));
    }
    m_state->index.erase(i);
    return {};
  });
}

}  // namespace zmproxy::provisioning

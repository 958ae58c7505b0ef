#include "lib/krb5/memory_keytab.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <krb5.h>
#include <sys/stat.h>
#include <utility>
#include <vector>

namespace zmproxy::krb5 {

namespace {

// Names are never reused within a process (see the header).
std::atomic<unsigned long> g_keytabs_made{0};

// One line from a Kerberos error code, with the context's extended message
// ("Key table file '/x' not found") when it has one.
std::string error_text(krb5_context context, krb5_error_code code) {
  const char* message = krb5_get_error_message(context, code);
  std::string text = message != nullptr ? message : "";
  krb5_free_error_message(context, message);
  for (char& c : text) {
    if (c == '\r' || c == '\n') {
      c = ' ';
    }
  }
  return text.empty() ? fmt::format("Kerberos error {}", code) : text;
}

Errc errc_of(krb5_error_code code) {
  if (code == ENOENT) {
    return Errc::not_found;
  }
  if (code == EACCES || code == EPERM) {
    return Errc::permission_denied;
  }
  return Errc::invalid_argument;
}

// The plain reasons first, before MIT opens the file (it says "Key table
// file ... not found" for a missing and an unreadable file alike, and would
// wait on a FIFO).
Result<void> probe(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    return fail(err == ENOENT || err == ENOTDIR ? Errc::not_found : Errc::permission_denied,
                fmt::format("keytab {}: cannot read it: {}", path, std::strerror(err)));
  }
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ssize_t n = -1;
  int err = 0;
  if (regular) {
    char first = 0;
    do {
      n = ::read(fd, &first, 1);
    } while (n < 0 && errno == EINTR);
    err = errno;
  }
  ::close(fd);
  if (!regular) {
    return fail(Errc::invalid_argument, fmt::format("keytab {}: not a regular file", path));
  }
  if (n < 0) {
    return fail(Errc::permission_denied,
                fmt::format("keytab {}: cannot read it: {}", path, std::strerror(err)));
  }
  if (n == 0) {
    return fail(Errc::invalid_argument, fmt::format("keytab {}: empty file, not a keytab", path));
  }
  return {};
}

// The entries read from the file; their contents (keys zeroed) freed on every
// path out.
struct Entries {
  krb5_context context;
  std::vector<krb5_keytab_entry> list;

  explicit Entries(krb5_context c) : context(c) {}
  ~Entries() {
    for (krb5_keytab_entry& entry : list) {
      krb5_free_keytab_entry_contents(context, &entry);
    }
  }
  Entries(const Entries&) = delete;
  Entries& operator=(const Entries&) = delete;
};

// Every entry of the FILE keytab `path`, in the file's order.
Result<void> read_file(krb5_context context, const std::string& path, Entries& out) {
  krb5_keytab file = nullptr;
  const std::string file_name = "FILE:" + path;  // a path with a ':' stays a path
  krb5_error_code code = krb5_kt_resolve(context, file_name.c_str(), &file);
  if (code != 0) {
    return fail(Errc::invalid_argument,
                fmt::format("keytab {}: {}", path, error_text(context, code)));
  }
  krb5_kt_cursor cursor = nullptr;
  code = krb5_kt_start_seq_get(context, file, &cursor);
  if (code != 0) {
    Error error{errc_of(code), fmt::format("keytab {}: {}", path, error_text(context, code))};
    krb5_kt_close(context, file);
    return tl::unexpected(std::move(error));
  }
  bool too_many = false;
  out.list.reserve(16);
  for (;;) {
    krb5_keytab_entry entry{};
    code = krb5_kt_next_entry(context, file, &entry, &cursor);
    if (code != 0) {
      break;
    }
    if (out.list.size() == k_max_keytab_entries) {
      krb5_free_keytab_entry_contents(context, &entry);
      too_many = true;
      break;
    }
    out.list.push_back(entry);
  }
  std::string read_error =
      code != 0 && code != KRB5_KT_END ? error_text(context, code) : std::string{};
  krb5_kt_end_seq_get(context, file, &cursor);
  krb5_kt_close(context, file);
  if (too_many) {
    return fail(Errc::invalid_argument,
                fmt::format("keytab {}: more than {} entries", path, k_max_keytab_entries));
  }
  if (!read_error.empty()) {
    return fail(Errc::invalid_argument,
                fmt::format("keytab {}: entry {}: {}", path, out.list.size() + 1, read_error));
  }
  if (out.list.empty()) {
    return fail(Errc::invalid_argument, fmt::format("keytab {}: holds no keys", path));
  }
  return {};
}

}  // namespace

struct MemoryKeytab::Impl {
  krb5_context context = nullptr;
  krb5_keytab keytab = nullptr;  // our reference to the MEMORY keytab
  std::string name;
  std::size_t entries = 0;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (keytab != nullptr) {
      krb5_kt_close(context, keytab);  // the last reference frees the keys
    }
    if (context != nullptr) {
      krb5_free_context(context);
    }
  }
};

MemoryKeytab::MemoryKeytab(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MemoryKeytab::~MemoryKeytab() = default;
MemoryKeytab::MemoryKeytab(MemoryKeytab&&) noexcept = default;
MemoryKeytab& MemoryKeytab::operator=(MemoryKeytab&&) noexcept = default;

const std::string& MemoryKeytab::name() const noexcept {
  return impl_->name;
}
std::size_t MemoryKeytab::entries() const noexcept {
  return impl_->entries;
}

Result<MemoryKeytab> MemoryKeytab::copy_file(const std::string& path) {
  if (path.empty()) {
    return fail(Errc::invalid_argument, "keytab: no file named");
  }
  ZMPROXY_TRY(probe(path));
  auto impl = std::make_unique<Impl>();
  krb5_error_code code = krb5_init_context(&impl->context);
  if (code != 0) {
    impl->context = nullptr;
    return fail(Errc::invalid_argument, fmt::format("keytab {}: Kerberos does not start: {}", path,
                                                    error_text(nullptr, code)));
  }
  Entries entries(impl->context);
  ZMPROXY_TRY(read_file(impl->context, path, entries));

  impl->name = fmt::format("MEMORY:zmproxy-{}-{}", ::getpid(), ++g_keytabs_made);
  code = krb5_kt_resolve(impl->context, impl->name.c_str(), &impl->keytab);
  if (code != 0) {
    impl->keytab = nullptr;
    return fail(Errc::internal, fmt::format("keytab {}: {}: {}", path, impl->name,
                                            error_text(impl->context, code)));
  }
  if (krb5_kt_have_content(impl->context, impl->keytab) == 0) {
    return fail(Errc::internal, fmt::format("keytab {}: {} is in use already", path, impl->name));
  }
  // A MEMORY keytab adds at the front: add from the last entry to keep the
  // file's order.
  for (auto it = entries.list.rbegin(); it != entries.list.rend(); ++it) {
    code = krb5_kt_add_entry(impl->context, impl->keytab, &*it);
    if (code != 0) {
      return fail(Errc::internal, fmt::format("keytab {}: cannot copy it into {}: {}", path,
                                              impl->name, error_text(impl->context, code)));
    }
  }
  impl->entries = entries.list.size();
  return MemoryKeytab(std::move(impl));
}

}  // namespace zmproxy::krb5

#pragma once
// MemoryKeytab: the entries of a keytab file copied into a process-unique MIT
// in-memory keytab ("MEMORY:zmproxy-<pid>-<n>"), so that the acceptor reads
// the file once (AcceptorCredentials::acquire) and never again on a login.
// This header includes no Kerberos header: memory_keytab.cpp does.
//
// What keeps a MEMORY keytab alive (MIT krb5 1.20, src/lib/krb5/keytab/
// kt_memory.c): every MEMORY keytab lives in one process-wide list, found by
// name and reference-counted; krb5_kt_resolve("MEMORY:<name>") finds it (or
// creates it empty) and adds a reference, krb5_kt_close drops one, and the
// last close frees the entries (their keys zeroed by krb5_free_keyblock_
// contents) and the name. gss_acquire_cred_from takes its own reference
// (krb5_kt_dup) for as long as the credential lives. A MemoryKeytab holds
// one reference until it is destroyed: the keys stay while the credential is
// acquired, and once both are gone (a reload dropping the old generation)
// nothing is left. A name is never reused, so two keytabs (two files, two
// generations) never share entries.
//
// Thread affinity: made and destroyed on any one thread at a time; name()
// may be read by any thread.

#include "lib/core/result.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace zmproxy::krb5 {

// The most entries copied from one keytab file (a service keytab holds a few
// principals times a few enctypes times a kvno or two).
inline constexpr std::size_t k_max_keytab_entries = 4096;

class MemoryKeytab {
 public:
  // Every entry of the keytab file `path` (read with MIT's FILE keytab), in
  // the file's order. Errc::not_found when the file does not exist,
  // permission_denied when it cannot be opened or read, invalid_argument
  // when it is not a regular file, not a keytab, or holds no entry or more
  // than k_max_keytab_entries. Each message is one line starting
  // "keytab <path>: ".
  static Result<MemoryKeytab> copy_file(const std::string& path);

  ~MemoryKeytab();
  MemoryKeytab(MemoryKeytab&&) noexcept;
  MemoryKeytab& operator=(MemoryKeytab&&) noexcept;
  MemoryKeytab(const MemoryKeytab&) = delete;
  MemoryKeytab& operator=(const MemoryKeytab&) = delete;

  // "MEMORY:zmproxy-<pid>-<n>": the name a cred store's "keytab" takes.
  const std::string& name() const noexcept;
  // How many entries were copied.
  std::size_t entries() const noexcept;

 private:
  struct Impl;
  explicit MemoryKeytab(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zmproxy::krb5

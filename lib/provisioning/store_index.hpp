#pragma once
// StoreIndex: the FileStore's in-memory table of the records of its LDIF text,
// sorted by tree key (a DN's normalized RDNs from the root down, joined by
// \x01), so a parent sorts right before its subtree, a subtree's keys are
// contiguous, and the table's order is the order slapadd needs (parents
// first). Each slot says where its record's text is; the record is parsed
// only when used (then, or for an added entry, the slot holds the entry).
//
// build() reads only the dn lines (index_ldif). Keys live in one arena; a
// file in tree order (as the FileStore writes it) is taken as it comes, any
// other is sorted once; of records with the same DN the last one counts, as
// when the file was read into a map. Pure; not thread-safe.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.hpp"
#include "lib/provisioning/entry.hpp"

namespace zmproxy::provisioning {

// The tree key of a DN (see above). DNs of letters, digits and . - _ @ =
// with no empty RDN (all of Zimbra's) take a fast path without allocation;
// the others go through normalize_dn.
std::string tree_key(std::string_view dn);
void append_tree_key(std::string& out, std::string_view dn);

class StoreIndex {
 public:
  struct Slot {
    std::size_t offset = 0;  // of the record's first line in the store's text
    std::size_t length = 0;  // up to and including its last line's newline
    std::unique_ptr<Entry> entry;  // parsed on use; set for added or changed records
  };
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  // The records of `text`; Errc::parse_error naming `source` and the line of
  // a record that does not start with a valid dn line.
  static Result<StoreIndex> build(std::string_view text, std::string_view source);

  std::size_t size() const { return m_items.size(); }
  std::string_view key(std::size_t i) const {
    return std::string_view(m_keys).substr(m_items[i].key_offset, m_items[i].key_length);
  }
  Slot& slot(std::size_t i) { return m_items[i].slot; }
  const Slot& slot(std::size_t i) const { return m_items[i].slot; }

  // The position of the first key not less than `key` (size() if none).
  std::size_t lower_bound(std::string_view key) const;
  // The position of `key`, or npos.
  std::size_t find(std::string_view key) const;
  // Insert a slot for `key`, which must not be present; returns its position.
  std::size_t insert(std::string_view key, Slot slot);
  void erase(std::size_t i);
  // Whether the entry at `i` has entries below it.
  bool has_children(std::size_t i) const;

 private:
  struct Item {
    std::size_t key_offset;
    std::size_t key_length;
    Slot slot;
  };
  std::string m_keys;  // every key, back to back
  std::vector<Item> m_items;
};

}  // namespace zmproxy::provisioning

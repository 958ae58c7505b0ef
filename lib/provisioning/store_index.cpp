#include "lib/provisioning/store_index.hpp"

#include <algorithm>
#include <array>

#include "lib/core/strings.hpp"
#include "lib/provisioning/dn.hpp"
#include "lib/provisioning/ldif.hpp"

namespace zmproxy::provisioning {

namespace {

// Letters, digits and . - _ @ = ,: the bytes of a DN that needs nothing but
// lower-casing and splitting at commas.
constexpr std::array<bool, 256> k_plain_dn_bytes = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[static_cast<std::size_t>(c)] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                     (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
                                     c == '@' || c == '=' || c == ',';
  }
  return t;
}();

// A DN whose tree key is its RDNs lower-cased in reverse order: nothing to
// trim, unescape or split but at commas, and no empty RDN.
bool is_plain_dn(std::string_view dn) {
  if (dn.empty() || dn.front() == ',' || dn.back() == ',') {
    return false;
  }
  char prev = 0;
  for (const char c : dn) {
    if (!k_plain_dn_bytes[static_cast<unsigned char>(c)] || (c == ',' && prev == ',')) {
      return false;
    }
    prev = c;
  }
  return true;
}

std::string slow_tree_key(std::string_view dn) {
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

}  // namespace

void append_tree_key(std::string& out, std::string_view dn) {
  if (!is_plain_dn(dn)) {
    out += slow_tree_key(dn);
    return;
  }
  const std::size_t from = out.size();
  out.resize(from + dn.size());
  char* to = out.data() + from;
  std::size_t end = dn.size();
  for (;;) {
    const std::size_t comma = dn.rfind(',', end - 1);
    const std::size_t start = comma == std::string_view::npos ? 0 : comma + 1;
    for (std::size_t i = start; i < end; ++i) {
      *to++ = core::ascii_lower(dn[i]);
    }
    if (comma == std::string_view::npos) {
      return;
    }
    *to++ = '\x01';
    end = comma;
  }
}

std::string tree_key(std::string_view dn) {
  std::string key;
  append_tree_key(key, dn);
  return key;
}

Result<StoreIndex> StoreIndex::build(std::string_view text, std::string_view source) {
  StoreIndex index;
  // Room for a file of records of about 300 bytes without growing; pages
  // not used are never touched.
  index.m_keys.reserve(text.size() / 4 + 64);
  index.m_items.reserve(text.size() / 128 + 16);
  auto found = index_ldif(text, source, [&](std::string_view dn, std::size_t offset, std::size_t length) {
    const std::size_t key_offset = index.m_keys.size();
    append_tree_key(index.m_keys, dn);
    index.m_items.push_back(
        Item{key_offset, index.m_keys.size() - key_offset, Slot{offset, length, nullptr}});
  });
  if (!found) {
    return tl::unexpected(found.error());
  }
  auto& items = index.m_items;
  const auto key_of = [&index](const Item& item) {
    return std::string_view(index.m_keys).substr(item.key_offset, item.key_length);
  };
  const auto less = [&](const Item& a, const Item& b) { return key_of(a) < key_of(b); };
  const auto not_ascending = [&](const Item& a, const Item& b) { return !less(a, b); };
  if (std::adjacent_find(items.begin(), items.end(), not_ascending) == items.end()) {
    return index;  // in tree order, no DN twice: as the FileStore writes it
  }
  std::stable_sort(items.begin(), items.end(), less);
  // Of equal keys the last one (in file order) counts.
  std::vector<Item> kept;
  kept.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i + 1 < items.size() && key_of(items[i]) == key_of(items[i + 1])) {
      continue;
    }
    kept.push_back(std::move(items[i]));
  }
  items = std::move(kept);
  return index;
}

std::size_t StoreIndex::lower_bound(std::string_view key) const {
  const auto it = std::lower_bound(
      m_items.begin(), m_items.end(), key, [this](const Item& item, std::string_view k) {
        return std::string_view(m_keys).substr(item.key_offset, item.key_length) < k;
      });
  return static_cast<std::size_t>(it - m_items.begin());
}

std::size_t StoreIndex::find(std::string_view key) const {
  const std::size_t i = lower_bound(key);
  return i < size() && this->key(i) == key ? i : npos;
}

std::size_t StoreIndex::insert(std::string_view key, Slot slot) {
  const std::size_t i = lower_bound(key);
  const std::size_t key_offset = m_keys.size();
  m_keys.append(key);
  m_items.insert(m_items.begin() + static_cast<std::ptrdiff_t>(i),
                 Item{key_offset, key.size(), std::move(slot)});
  return i;
}

void StoreIndex::erase(std::size_t i) {
  m_items.erase(m_items.begin() + static_cast<std::ptrdiff_t>(i));
}

bool StoreIndex::has_children(std::size_t i) const {
  if (i + 1 >= size()) {
    return false;
  }
  const std::string_view parent = key(i);
  const std::string_view next = key(i + 1);
  return next.size() > parent.size() && next.substr(0, parent.size()) == parent &&
         next[parent.size()] == '\x01';
}

}  // namespace zmproxy::provisioning

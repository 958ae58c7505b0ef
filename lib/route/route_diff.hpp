#pragma once
// Which accounts' routes may differ between two RouteIndexes: zmlookupd
// compares the index it just built with the previous one and purges the
// cached routes of those accounts from memcached (lookup_server.cpp).
//
// Each account gets a fingerprint: a 64-bit hash of everything a lookup of
// it reads (lookup_handler.cpp) and everything its purge keys are made of
// (purge.cpp): its names, aliases and zimbraId, its mail host and status,
// its external route; its domain's routing values and the alias domains
// that point to it; its mail host's resolved ports and IMAP pool; and the
// global lookup settings. Accounts are matched by zimbraId (else by their
// address), so a rename is one changed account. Comparing two indexes is a
// sort and a merge of 16-byte records, no string of either index compared.
// Pure.

#include <cstdint>
#include <string_view>
#include <vector>

#include "lib/route/route_index.hpp"

namespace zmproxy::route {

struct AccountPrint {
  std::uint64_t key = 0;       // the zimbraId's hash (else the address's), any ASCII case
  std::uint64_t print = 0;     // everything its routes depend on
  std::uint32_t position = 0;  // in index.accounts()
};

// Every account's print, sorted by key. `handler_server` is zmlookupd's own
// server name (its host resolution settings shape every answer).
std::vector<AccountPrint> account_prints(const RouteIndex& index, std::string_view handler_server);

struct RouteChanges {
  std::vector<std::uint32_t> before;  // positions in the old index: removed or changed
  std::vector<std::uint32_t> after;   // positions in the new index: added or changed
  std::size_t accounts = 0;           // accounts whose routes may differ (each counted once)
};

// `before` and `after` as account_prints made them (sorted by key).
RouteChanges diff_prints(const std::vector<AccountPrint>& before, const std::vector<AccountPrint>& after);

}  // namespace zmproxy::route

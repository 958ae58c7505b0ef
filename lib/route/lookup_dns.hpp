#pragma once
// zmlookupd's answers name a mail host by address: a zimbraMailHost that is
// a name is resolved here, and the address kept for a minute. One per
// server, used on its io thread only. Resolution goes through Asio's
// resolver (its own thread), never blocking the io thread.

#include "lib/net/asio.hpp"

#include <chrono>
#include <map>
#include <string>

namespace zmproxy::route {

class LookupDns {
 public:
  // Without waiting: `host` becomes the address it is (normalised) or an
  // unexpired cached one, and true; false when it needs resolve().
  bool resolved_now(std::string& host, const std::string& mode);
  // The address of `host` by `mode` ("ipv4", "ipv6" or "both": the first of
  // either), "" when it has none; kept for a minute.
  net::asio::awaitable<std::string> resolve(std::string host, std::string mode);
  // Forget every cached address (zmlookupd's FLUSH).
  void clear() { m_cache.clear(); }

 private:
  struct Entry {
    std::string address;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, Entry, std::less<>> m_cache;  // "host/mode"
  std::string m_key;                                  // its key buffer
};

}  // namespace zmproxy::route

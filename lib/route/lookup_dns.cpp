#include "lib/route/lookup_dns.hpp"

namespace zmproxy::route {

namespace {

namespace asio = net::asio;
using net::tcp;

constexpr auto k_ttl = std::chrono::seconds(60);

std::string pick_address(const tcp::resolver::results_type& results, const std::string& mode) {
  std::string first;
  for (const auto& r : results) {
    const auto a = r.endpoint().address();
    if (first.empty()) {
      first = a.to_string();
    }
    if (mode == "ipv6" ? a.is_v6() : a.is_v4()) {
      return a.to_string();
    }
  }
  return mode == "both" ? first : std::string();
}

}  // namespace

bool LookupDns::resolved_now(std::string& host, const std::string& mode) {
  boost::system::error_code ec;
  const auto parsed = asio::ip::make_address(host, ec);
  if (!ec) {
    // inet_pton takes an IPv4 address only in its one written form (four
    // decimal parts, no leading zeros): already normal, no need to print
    // it again (inet_ntop's sprintf).
    if (!parsed.is_v4()) {
      host = parsed.to_string();
    }
    return true;
  }
  m_key.assign(host).append("/").append(mode);
  if (const auto it = m_cache.find(m_key);
      it != m_cache.end() && it->second.expires > std::chrono::steady_clock::now()) {
    host.assign(it->second.address);
    return true;
  }
  return false;
}

asio::awaitable<std::string> LookupDns::resolve(std::string host, std::string mode) {
  const auto now = std::chrono::steady_clock::now();
  const std::string key = host + "/" + mode;
  if (const auto it = m_cache.find(key); it != m_cache.end() && it->second.expires > now) {
    co_return it->second.address;
  }
  boost::system::error_code ec;
  const auto parsed = asio::ip::make_address(host, ec);
  if (!ec) {
    co_return parsed.to_string();
  }
  tcp::resolver resolver(co_await asio::this_coro::executor);
  auto [rec, results] = co_await resolver.async_resolve(host, "", net::use_nothrow);
  std::string address = rec ? std::string() : pick_address(results, mode);
  if (!address.empty()) {
    m_cache[key] = Entry{address, now + k_ttl};
  }
  co_return address;
}

}  // namespace zmproxy::route

#include "lib/confgen/domain_names.hpp"

#include <algorithm>

namespace zmproxy::confgen {

namespace {

// The name as a printable excerpt for an error line (controls escaped).
std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 100)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char k_hex[] = "0123456789abcdef";
      out += "\\x";
      out += k_hex[u >> 4];
      out += k_hex[u & 0x0f];
    } else {
      out += c;
    }
  }
  return s.size() > 100 ? out + "..." : out;
}

}  // namespace

bool is_safe_domain_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.' ||
      name.front() == '-' || name.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

bool is_safe_virtual_host(std::string_view name) noexcept {
  if (name.starts_with("*.")) {
    name.remove_prefix(2);
  }
  return is_safe_domain_name(name);
}

Result<void> check_domain_certificate_names(std::string_view domain,
                                            const std::vector<std::string>& virtual_hosts) {
  if (!is_safe_domain_name(domain)) {
    return fail(Errc::invalid_argument,
                "domain '" + printable(domain) +
                    "' has a certificate but its name cannot be a file name under "
                    "conf/domaincerts (letters, digits, '-', '_' and dots only); rename the domain "
                    "or remove its zimbraSSLCertificate");
  }
  for (const std::string& vhost : virtual_hosts) {
    if (!is_safe_virtual_host(vhost)) {
      return fail(Errc::invalid_argument,
                  "domain '" + std::string(domain) + "' zimbraVirtualHostname '" + printable(vhost) +
                      "' is not a host name (letters, digits, '-', '_' and dots only); fix it with "
                      "zmprov md " +
                      std::string(domain) + " -zimbraVirtualHostname ...");
    }
  }
  return {};
}

}  // namespace zmproxy::confgen

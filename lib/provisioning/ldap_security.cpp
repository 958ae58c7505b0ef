#include "lib/provisioning/ldap_security.hpp"

#include "lib/core/strings.hpp"

#include <arpa/inet.h>
#include <array>

namespace zmproxy::provisioning {

bool is_loopback_host(std::string_view host) noexcept {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || core::iequals(host, "localhost") || core::iequals(host, "localhost.")) {
    return true;
  }
  if (host.size() > 64) {
    return false;
  }
  std::array<char, 65> text{};
  host.copy(text.data(), host.size());
  std::array<unsigned char, 16> a{};
  if (inet_pton(AF_INET, text.data(), a.data()) == 1) {
    return a[0] == 127;
  }
  if (inet_pton(AF_INET6, text.data(), a.data()) == 1) {
    static constexpr std::array<unsigned char, 16> k_loopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                              0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr std::array<unsigned char, 12> k_v4_mapped{0, 0, 0, 0, 0,    0,
                                                               0, 0, 0, 0, 0xff, 0xff};
    return a == k_loopback ||
           (std::equal(k_v4_mapped.begin(), k_v4_mapped.end(), a.begin()) && a[12] == 127);
  }
  return false;
}

std::vector<LdapUrlTarget> ldap_url_targets(std::string_view urls) {
  std::vector<LdapUrlTarget> out;
  for (const std::string& part : core::split(urls, ' ')) {
    const std::string url(core::trim(part));
    if (url.empty()) {
      continue;
    }
    LdapUrlTarget t;
    const auto scheme_end = url.find("://");
    std::string_view rest = url;
    if (scheme_end != std::string::npos) {
      t.scheme = core::to_lower(url.substr(0, scheme_end));
      rest.remove_prefix(scheme_end + 3);
    } else {
      t.scheme = "ldap";
    }
    if (t.scheme == "ldapi") {
      t.local = true;
      out.push_back(std::move(t));
      continue;
    }
    rest = rest.substr(0, rest.find_first_of("/?"));
    if (!rest.empty() && rest.front() == '[') {
      const auto close = rest.find(']');
      t.host = std::string(
          rest.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
    } else {
      t.host = std::string(rest.substr(0, rest.find(':')));
    }
    t.local = is_loopback_host(t.host);
    out.push_back(std::move(t));
  }
  return out;
}

LdapTlsPolicy ldap_tls_policy(const LdapSettings& s) {
  LdapTlsPolicy p;
  p.verify = !s.allow_untrusted_certs;
  for (const LdapUrlTarget& t : ldap_url_targets(s.url)) {
    p.remote = p.remote || !t.local;
    if (t.scheme == "ldap" && (s.starttls_supported || (!t.local && s.starttls_required))) {
      p.start_tls = true;
    }
  }
  return p;
}

std::optional<std::string> shipped_password_refusal(std::string_view key,
                                                    std::string_view value,
                                                    std::string_view where,
                                                    bool remote) {
  struct Shipped {
    std::string_view key;
    std::string_view password;
  };
  static constexpr Shipped k_shipped[] = {
      {"ldap_root_password", "zimbra"},
      {"zimbra_ldap_password", "zimbra"},
      {"ldap_nginx_password", "zmnginx"},
  };
  if (!remote) {
    return std::nullopt;
  }
  for (const Shipped& s : k_shipped) {
    if (s.key == key && s.password == value) {
      return std::string(key) + " is still the password shipped with Zimbra and " +
             std::string(where) +
             " is not on this host; set a real one on the server and here: zmlocalconfig -e " +
             std::string(key) + "=<password>";
    }
  }
  return std::nullopt;
}

}  // namespace zmproxy::provisioning

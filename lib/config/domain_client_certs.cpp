#include "lib/config/domain_client_certs.hpp"

#include "lib/config/proxy_config.hpp"
#include "lib/core/strings.hpp"

namespace zmproxy::config {

std::optional<DomainClientCert> parse_domain_client_cert(std::string_view entry) {
  const auto words = core::split(std::string(core::trim(entry)), ' ');
  if (words.size() < 2 || words.size() > 3 || words[0].empty()) {
    return std::nullopt;
  }
  if (words[1] != "off" && words[1] != "on" && words[1] != "optional") {
    return std::nullopt;
  }
  return DomainClientCert{words[0], words[1], words.size() == 3 ? words[2] : std::string()};
}

std::vector<DomainClientCert> domain_client_certs(const HttpSection& h) {
  std::vector<DomainClientCert> out;
  for (const std::string& entry : h.domain_client_certs) {
    if (auto d = parse_domain_client_cert(entry)) {
      out.push_back(std::move(*d));
    }
  }
  return out;
}

bool client_cert_contexts_wanted(const HttpSection& h) {
  if (!h.enabled) {
    return false;
  }
  if (h.client_cert_mode != "off") {
    return true;
  }
  for (const DomainClientCert& d : domain_client_certs(h)) {
    if (d.mode != "off") {
      return true;
    }
  }
  return false;
}

}  // namespace zmproxy::config

#include "lib/ctl/fleet_forget.hpp"

#include "lib/core/strings.hpp"

#include <algorithm>
#include <ostream>

namespace zmproxy::ctl {

namespace {

constexpr std::size_t k_forget_line_max = 3072;

}  // namespace

std::vector<std::string> forget_commands(const provisioning::Entry& account,
                                         std::string_view given) {
  std::vector<std::string> names{core::to_lower(account.first("zimbraMailDeliveryAddress"))};
  if (const auto* aliases = account.values("zimbraMailAlias")) {
    for (const auto& a : *aliases) {
      names.push_back(core::to_lower(a));
    }
  }
  names.push_back(core::to_lower(given));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<std::string> commands;
  for (const std::string& n : names) {
    const bool printable = std::all_of(n.begin(), n.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return u > 0x20 && u < 0x7f;
    });
    if (n.empty() || !printable || n.size() > 512) {
      continue;
    }
    if (commands.empty() || commands.back().size() + 1 + n.size() > k_forget_line_max) {
      commands.emplace_back("FORGET");
    }
    commands.back() += " " + n;
  }
  return commands;
}

bool forget_on_proxies(const std::vector<FleetMember>& proxies,
                       const provisioning::Entry& account,
                       std::string_view given,
                       const FleetAsk& ask,
                       bool verbose,
                       std::ostream& out,
                       std::ostream& err) {
  if (proxies.empty()) {
    return true;
  }
  bool all = true;
  std::size_t told = 0;
  std::size_t asked = 0;
  for (const std::string& command : forget_commands(account, given)) {
    asked += proxies.size();
    for (const FleetAnswer& a : ask_fleet(proxies, FleetRole::proxy, command, ask)) {
      if (const std::string line = fleet_failure(a); !line.empty()) {
        err << "zmproxypurge: proxy " << line << "\n";
        all = false;
        continue;
      }
      ++told;
      if (verbose) {
        out << a.member.server << " " << a.reply.text << "\n";
      }
    }
  }
  out << "told " << told << " of " << asked << " proxy endpoints to forget "
      << account.first("zimbraMailDeliveryAddress") << "\n";
  return all;
}

}  // namespace zmproxy::ctl

#pragma once
// zmproxyd's FORGET control command, parsed: "FORGET ALL" drops every
// in-process route, "FORGET <name> [<name> ...]" (1 to 100 names) drops those
// users' (RouteResolver::forget). The same strings come from the control
// socket, zmconfigd and the fleet's control endpoint. Pure.
//
// A name is what a login or a web request may name a user by: an account
// name, an alias, a bare name of the default domain, or a zimbraId; 1 to 256
// bytes, no space or control byte, at most one '@' with text on each side.
// "ALL" (exactly, upper case) alone means everyone.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/result.hpp"

namespace zmproxy::route {

inline constexpr std::size_t k_max_forget_names = 100;
inline constexpr std::size_t k_max_forget_name_bytes = 256;

struct ForgetCommand {
  bool all = false;
  std::vector<std::string> names;  // as given (the resolver compares them lower-cased)
};

// Whether `name` may be a user's name (the rule above).
bool is_forgettable_name(std::string_view name) noexcept;

// `line` is the whole command, "FORGET ..." included. Errors are
// Errc::invalid_argument with one line (no "ERROR " prefix) naming what is
// wrong and what is expected.
Result<ForgetCommand> parse_forget(std::string_view line);

}  // namespace zmproxy::route

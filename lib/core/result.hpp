#pragma once
// Result<T>: the return type for failures that are expected (bad input, a file
// that does not parse, a server that is down). Exceptions are kept for
// programming errors and start-up. An Error carries a category and one line
// of text that names the thing and, where possible, the fix.

#include <tl/expected.hpp>

#include <string>
#include <utility>

namespace zmproxy {

enum class Errc {
  invalid_argument,  // the caller's input is wrong (usage, bad value)
  not_found,         // the named thing does not exist
  already_exists,    // the named thing exists already
  parse_error,       // a file or message does not parse
  io_error,          // the operating system said no
  unavailable,       // a server we depend on is not reachable
  permission_denied,
  internal,
};

struct Error {
  Errc code = Errc::internal;
  std::string message;
  // Zimbra's service error code where one applies (e.g. "account.NO_SUCH_ACCOUNT").
  std::string zimbra_code;

  Error() = default;
  Error(Errc c, std::string m, std::string z = {})
      : code(c), message(std::move(m)), zimbra_code(std::move(z)) {}
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(Errc code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

inline tl::unexpected<Error> fail(Errc code, std::string zimbra_code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message), std::move(zimbra_code)});
}

}  // namespace zmproxy

// Propagate a failed Result out of the calling function.
#define ZMPROXY_TRY(expr)                                            \
  do {                                                               \
    auto&& zmproxy_try_result_ = (expr);                             \
    if (!zmproxy_try_result_) {                                      \
      return tl::unexpected(std::move(zmproxy_try_result_).error()); \
    }                                                                \
  } while (false)

// libFuzzer target: the request-target of an HTTP request line
// (proxy/http/request_target.cpp), its percent-decoding (core/strings.cpp)
// and the redaction of credentials before the access log
// (proxy/http/log_redact.cpp). Checks: an absolute target's authority and
// origin are views into it, the origin is a path (or empty, or a query),
// the authority has no user info; query decoding with and without '+' agree
// where there is no '+'; redaction is idempotent and leaves no credential
// parameter's value.
#include "lib/core/strings.hpp"
#include "lib/proxy/http/log_redact.hpp"
#include "lib/proxy/http/request_target.hpp"

#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace zmproxy::proxy::http;
using zmproxy::testing::fuzz_expect;

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// Every credential parameter of the query of `url` has the value "***" (or none).
bool no_credential_left(std::string_view url) {
  const auto q = url.find('?');
  if (q == std::string_view::npos) {
    return true;
  }
  std::string_view query = url.substr(q + 1);
  query = query.substr(0, query.find_first_of("# "));
  while (!query.empty()) {
    const auto sep = query.find_first_of("&;");
    const std::string_view param = query.substr(0, sep);
    const auto eq = param.find('=');
    if (eq != std::string_view::npos && is_credential_parameter(param.substr(0, eq)) &&
        param.substr(eq + 1) != k_redacted && !param.substr(eq + 1).empty()) {
      return false;
    }
    if (sep == std::string_view::npos) {
      break;
    }
    query.remove_prefix(sep + 1);
  }
  return true;
}

}  // namespace

// The name and signature are libFuzzer's.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const std::uint8_t* data,
    std::size_t size) {
  const std::string_view input = zmproxy::testing::as_text(data, size);
  for (const bool options : {false, true}) {
    const RequestTarget t = classify_target(input, options);
    if (t.form == RequestTarget::Form::origin) {
      fuzz_expect(!input.empty() && input.front() == '/', "an origin-form without '/'", input);
    } else if (t.form == RequestTarget::Form::absolute) {
      fuzz_expect(inside(t.authority, input) && inside(t.origin, input),
                  "an absolute target's parts are not its own", input);
      fuzz_expect(!t.authority.empty() && t.authority.find('@') == std::string_view::npos,
                  "an absolute target's authority is empty or has user info", input);
      // (Empty or "?q" mean the path "/": the session prepends it.)
      fuzz_expect(t.origin.empty() || t.origin.front() == '/' || t.origin.front() == '?',
                  "an absolute target's origin is no path", input);
    } else if (t.form == RequestTarget::Form::asterisk) {
      fuzz_expect(options && input == "*", "'*' outside OPTIONS", input);
    }
  }
  const auto plain = zmproxy::core::percent_decode(input, false);
  const auto plus = zmproxy::core::percent_decode(input, true);
  fuzz_expect(plain.has_value() == plus.has_value(), "'+' changes whether a query decodes", input);
  if (plain && input.find('+') == std::string_view::npos) {
    fuzz_expect(*plain == *plus, "decoding differs without a '+'", input);
  }
  if (plain) {
    fuzz_expect(plain->size() <= input.size(), "decoding grew the text", input);
  }

  std::string once(input);
  redact_credentials(once);
  std::string twice = once;
  redact_credentials(twice);
  fuzz_expect(twice == once, "redaction is not idempotent", input);
  fuzz_expect(no_credential_left(once),
              "a credential is left after redaction: " + zmproxy::testing::escape(once), input);
  return 0;
}

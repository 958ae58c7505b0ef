#pragma once
// Credentials out of the access log: the values of the query parameters that
// carry a login (`zauthtoken`, `zjwt`, `preauth`, `auth`; names compared
// case-insensitively and after percent-decoding, as the mailbox's servlets
// read them) are replaced by "***" in a request line or a Referer before the
// line is written, and so is the user information of an absolute URL
// ("http://user:password@host/" becomes "http://***@host/"). Cookies and
// Authorization are never logged at all. Pure;
// in place; no allocation unless a value is replaced.

#include <string>

namespace zmproxy::proxy::http {

inline constexpr std::string_view k_redacted = "***";

// Redacts every credential parameter in the query part (after the first '?',
// up to a '#' or a space: the same function serves a bare URL and a whole
// "METHOD target HTTP/1.1" line). Parameters are separated by '&' or ';'.
void redact_credentials(std::string& url);

// Is `name` (raw, possibly percent-encoded) one of the credential parameters?
bool is_credential_parameter(std::string_view name);

}  // namespace zmproxy::proxy::http

#pragma once
// The request target of an HTTP/1.1 request line (RFC 9112 §3.2): origin-form
// ("/path?query") passes; absolute-form ("http://host/path") is taken apart so
// that its authority, not the Host header, meets the strict-server-name check
// (§3.2.2: a server must ignore Host when the target is absolute) and the
// mailbox only ever sees origin-form; anything else (authority-form, a bare
// "*" outside OPTIONS, a relative path) is refused. Pure.

#include <string_view>

namespace zmproxy::proxy::http {

struct RequestTarget {
  enum class Form { origin, absolute, asterisk, invalid };
  Form form = Form::invalid;
  // absolute-form only: the authority (host[:port], no user info) and the
  // origin-form rest, views into the target; the rest is empty or starts with
  // '?' when the URL has no path, which then is "/" (the caller prepends it).
  std::string_view authority;
  std::string_view origin;
};

// `options`: the method is OPTIONS (the only one "*" is allowed with).
// An absolute target must be http or https (any case) with a non-empty
// authority and no user info ("http://user@host/" is invalid: it is how a
// link hides its real host).
RequestTarget classify_target(std::string_view target, bool options);

}  // namespace zmproxy::proxy::http

#include "lib/proxy/http/request_target.hpp"

#include "lib/core/strings.hpp"

namespace zmproxy::proxy::http {

RequestTarget classify_target(std::string_view target, bool options) {
  RequestTarget r;
  if (!target.empty() && target.front() == '/') {
    r.form = RequestTarget::Form::origin;
    return r;
  }
  if (target == "*") {
    r.form = options ? RequestTarget::Form::asterisk : RequestTarget::Form::invalid;
    return r;
  }
  std::size_t skip = 0;
  if (core::istarts_with(target, "http://")) {
    skip = 7;
  } else if (core::istarts_with(target, "https://")) {
    skip = 8;
  } else {
    return r;
  }
  const std::string_view rest = target.substr(skip);
  const std::size_t end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return r;
  }
  std::string_view origin = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (!origin.empty() && origin.front() == '#') {
    return r;  // a fragment is never part of a request target
  }
  r.form = RequestTarget::Form::absolute;
  r.authority = authority;
  // "http://host" and "http://host?q" mean the path "/" (RFC 9112 §3.2.1);
  // the caller prepends the "/" when `origin` starts with '?'.
  r.origin = origin;
  return r;
}

}  // namespace zmproxy::proxy::http
